namespace Router.Protocol.Client;

/// <summary>
/// The replies of one mail transaction (RFC 5321 s3.3): MAIL's, one per RCPT in envelope
/// order, and DATA's (null when DATA was never answered for a real message). OutcomeFor gives
/// each recipient's final reply, which is what a queue needs to settle it.
/// </summary>
public sealed class TransactionResult
{
    private static readonly IReadOnlyList<SmtpReply> NoReplies = [];

    internal TransactionResult(TransactionStatus status, SmtpReply? mail, IReadOnlyList<SmtpReply>? recipients, SmtpReply? data, SmtpReply? local = null)
    {
        Status = status;
        MailReply = mail;
        RecipientReplies = recipients ?? NoReplies;
        DataReply = data;
        LocalReply = local;
    }

    public TransactionStatus Status { get; }

    public SmtpReply? MailReply { get; }

    /// <summary>One reply per recipient, in envelope order; may be empty when MAIL was refused, empty when nothing was sent.</summary>
    public IReadOnlyList<SmtpReply> RecipientReplies { get; }

    /// <summary>The reply to the final dot, DATA's own refusal, or a 421; null when no recipient was accepted.</summary>
    public SmtpReply? DataReply { get; }

    /// <summary>A reply made up locally when the message was not sent at all (552 5.3.4 or 553 5.6.7).</summary>
    public SmtpReply? LocalReply { get; }

    /// <summary>Number of recipients whose RCPT was accepted.</summary>
    public int AcceptedRecipients => Status is TransactionStatus.MailRejected ? 0 : RecipientReplies.Count(r => r.IsPositive);

    /// <summary>
    /// True when the peer said 421 (RFC 5321 s3.8, closing) to MAIL or to a RCPT before it had
    /// accepted any recipient: no part of the message was taken, so it can go again on another
    /// connection without being delivered twice.
    /// </summary>
    public bool ClosedBeforeAnyRecipient => AcceptedRecipients == 0
        && (Status == TransactionStatus.ServiceClosing || (Status == TransactionStatus.MailRejected && MailReply?.Code == 421));

    /// <summary>True when the peer took responsibility for the message for every accepted recipient.</summary>
    public bool Delivered => Status == TransactionStatus.Completed && DataReply is { IsPositive: true };

    /// <summary>The reply that settles recipient <paramref name="index"/> (envelope order).</summary>
    public SmtpReply OutcomeFor(int index)
    {
        if (LocalReply is not null) return LocalReply;
        if (Status == TransactionStatus.MailRejected) return MailReply!;
        var rcpt = RecipientReplies[index];
        if (!rcpt.IsPositive) return rcpt;
        return DataReply ?? rcpt;
    }
}
