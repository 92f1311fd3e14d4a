namespace Router.Actors.Routing;

/// <summary>
/// An owner's answer to a session handing it a message: the mailbox actor once the Maildir file is
/// durable, the relay once the body is spooled and the envelope persisted. The session replies 250
/// only after every owner said <see cref="Durable"/>.
/// </summary>
public abstract record OwnerReply(long TransactionId, string Owner)
{
    public sealed record Durable(long TransactionId, string Owner) : OwnerReply(TransactionId, Owner);

    public sealed record Failed(long TransactionId, string Owner, string Reason) : OwnerReply(TransactionId, Owner);
}
