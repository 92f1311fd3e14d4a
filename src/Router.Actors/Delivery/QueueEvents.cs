using Router.Protocol;

namespace Router.Actors.Delivery;

/// <summary>
/// A message as queued for one destination domain: the envelope, never the body (that is in the
/// message store, under <see cref="QueueId"/>). Persisted in <see cref="QueueEvent.Enqueued"/>.
/// RET (RFC 3461 s4.3) is two flags, <paramref name="ReturnFull"/> and
/// <paramref name="ReturnHeaders"/>, because events written before RET=HDRS was kept have only
/// the first: there RET=HDRS reads as no RET, which is what that version passed on.
/// </summary>
public sealed record QueuedMessage(
    string QueueId,
    string Domain,
    string? Sender,
    string? EnvelopeId,
    bool ReturnFull,
    bool SmtpUtf8,
    bool EightBitMime,
    DateTimeOffset ArrivedAt,
    long Size,
    QueuedRecipient[] Recipients,
    bool ReturnHeaders = false)
{
    /// <summary>RET as the client gave it. A method: the journal stores the flags.</summary>
    public DsnReturn Return() => ReturnFull ? DsnReturn.Full : ReturnHeaders ? DsnReturn.Headers : DsnReturn.None;
}

/// <summary>One recipient of a queued message, with its DSN parameters (RFC 3461).</summary>
public sealed record QueuedRecipient(string Address, DsnNotify Notify, string? OriginalRecipient);

/// <summary>How one recipient fared in one attempt.</summary>
public enum RecipientOutcome
{
    Delivered,
    Deferred,
    Failed,
}

/// <summary>
/// The result of one attempt for one recipient (by index), with the reply that settled it.
/// <paramref name="Expired"/>: failed because the give-up time passed; the reply is then that of
/// the last attempt, made once that time was reached (a DSN reports it as the Diagnostic-Code,
/// with Status 5.4.7).
/// <paramref name="PeerOfferedDsn"/>: for a delivered recipient, whether the server that took it
/// offered DSN (RFC 3461): if not, a sender who asked NOTIFY=SUCCESS is owed a "relayed" notice
/// (s5.2.2). Null for other outcomes, and in results written by a version that did not record it
/// (no notice is owed for those). <paramref name="Relay"/>: the host a connection reached when the
/// outcome is not that host's reply (AUTH or TLS failed, the connection was lost, a refusal of our
/// own), which the log names as Postfix does (relay=host, where "none" means nothing was reached);
/// null when <paramref name="RemoteMta"/> names it or no connection was made.
/// </summary>
public sealed record RecipientResult(int Index, RecipientOutcome Outcome, int Code, string? Enhanced, string Text, string? RemoteMta, bool Expired = false, bool? PeerOfferedDsn = null, string? Relay = null)
{
    public SmtpReply ToReply() => new(Code, Enhanced, Text);

    /// <summary>The whole reply as the server gave it, enhanced code included ("450 4.2.1 mailbox busy"), as mailq shows it. A method: the journal stores the parts.</summary>
    public string FullReply() => Enhanced is null ? $"{Code} {Text}" : $"{Code} {Enhanced} {Text}";

    /// <summary>The host the outcome came from or was met at, for the log's relay=; null when none was reached.</summary>
    public string? RelayHost() => Relay ?? RemoteMta;

    /// <param name="peerOfferedDsn">Whether the server offered DSN; kept for a delivered recipient only.</param>
    /// <param name="relay">The host reached, when the reply is not its own (see <see cref="Relay"/>).</param>
    public static RecipientResult From(int index, SmtpReply reply, string? remoteMta, bool? peerOfferedDsn = null, string? relay = null) => new(
        index,
        reply.IsPositive ? RecipientOutcome.Delivered : reply.IsTransient ? RecipientOutcome.Deferred : RecipientOutcome.Failed,
        reply.Code,
        reply.Enhanced,
        reply.Text,
        remoteMta,
        PeerOfferedDsn: reply.IsPositive ? peerOfferedDsn : null,
        Relay: relay);
}

/// <summary>The events of a domain's queue: the only facts persisted in the journal.</summary>
public abstract record QueueEvent(string QueueId)
{
    public sealed record Enqueued(QueuedMessage Message) : QueueEvent(Message.QueueId);

    /// <summary>
    /// An attempt finished at <see cref="AttemptedAt"/> (a DSN's Last-Attempt-Date); deferred
    /// recipients are next tried at <see cref="NextAttempt"/>. AttemptedAt is null when no
    /// attempt was made (the message expired while its destination was suspended, or, in events of
    /// earlier versions, at its give-up time; its body was lost), and in events written before it
    /// was recorded.
    /// </summary>
    public sealed record Attempted(string QueueId, RecipientResult[] Results, DateTimeOffset NextAttempt, DateTimeOffset? AttemptedAt = null) : QueueEvent(QueueId);

    /// <summary>The delay notice (RFC 3464 Action: delayed) was handed to its owner.</summary>
    public sealed record DelayNotified(string QueueId) : QueueEvent(QueueId);

    /// <summary>A bounce for these failed recipients was handed to its owner (or none was due).</summary>
    public sealed record Bounced(string QueueId, int[] Recipients) : QueueEvent(QueueId);

    /// <summary>A "relayed" notice (RFC 3464 Action: relayed) for these delivered recipients was handed to its owner.</summary>
    public sealed record SuccessNotified(string QueueId, int[] Recipients) : QueueEvent(QueueId);

    /// <summary>Every recipient is settled: the message leaves the queue.</summary>
    public sealed record Removed(string QueueId) : QueueEvent(QueueId);
}
