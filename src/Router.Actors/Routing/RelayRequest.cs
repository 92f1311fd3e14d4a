using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// A session hands the relay a message with remote recipients and, in cluster mode, its local
/// mailboxes too (the body then travels by reference through the message store). The relay
/// answers with an <see cref="OwnerReply"/> once the body is stored, every domain's envelope is
/// persisted and every mailbox copy is durable.
/// </summary>
public sealed record RelayRequest(
    long TransactionId,
    string QueueId,
    MailCommand Mail,
    IReadOnlyList<Destination.Remote> Recipients,
    IReadOnlyList<RcptCommand> RcptCommands,
    byte[] Trace,
    ReadOnlyMemory<byte> Body,
    TimeSpan AckTimeout)
{
    /// <summary>Local mailboxes to deliver through the message store (cluster mode).</summary>
    public IReadOnlyList<Destination.Mailbox> Mailboxes { get; init; } = [];
}
