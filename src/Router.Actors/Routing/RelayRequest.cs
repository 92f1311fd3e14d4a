using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// A session hands the relay a message with remote recipients. The relay answers with an
/// <see cref="OwnerReply"/> once the body is spooled and every recipient's envelope is persisted.
/// </summary>
public sealed record RelayRequest(
    long TransactionId,
    string QueueId,
    MailCommand Mail,
    IReadOnlyList<Destination.Remote> Recipients,
    IReadOnlyList<RcptCommand> RcptCommands,
    ReadOnlyMemory<byte> Trace,
    ReadOnlyMemory<byte> Body);
