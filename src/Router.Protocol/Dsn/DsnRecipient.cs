namespace Router.Protocol.Dsn;

/// <summary>
/// One recipient's part of a DSN (RFC 3464 s2.3): the per-recipient fields. Values that came
/// from the network (the remote reply, host names, ORCPT) are cleaned of line breaks and
/// control characters by <see cref="DsnBuilder"/>; callers pass them as they are.
/// </summary>
/// <param name="Address">The Final-Recipient: the address this MTA tried to deliver to.</param>
/// <param name="Status">RFC 3463 enhanced status, "5.x.x" for failures and "4.x.x" for delays
/// (a code of the other class is adjusted to the DSN's kind, see <see cref="DsnBuilder.StatusFor"/>).</param>
public sealed record DsnRecipient(MailAddress Address, string Status)
{
    /// <summary>The ORCPT parameter (RFC 3461 s4.2), xtext already decoded, e.g. "rfc822;bob@example.com".</summary>
    public string? OriginalRecipient { get; init; }

    /// <summary>The host that gave <see cref="RemoteReply"/> (Remote-MTA), when one did.</summary>
    public string? RemoteMta { get; init; }

    /// <summary>The remote server's last reply: becomes "Diagnostic-Code: smtp; ...".</summary>
    public SmtpReply? RemoteReply { get; init; }

    /// <summary>
    /// A readable cause when no server replied (e.g. "Host or domain name not found"), which is
    /// also the Diagnostic-Code, as "X-Router; cause" (RFC 3464 s2.3.6); with a
    /// <see cref="RemoteReply"/>, why delivery stopped after it (e.g. "Delivery time expired after
    /// 5 days"), written before the reply.
    /// </summary>
    public string? Reason { get; init; }

    public DateTimeOffset? LastAttemptDate { get; init; }

    /// <summary>For delays: when this MTA will give up (RFC 3464 s2.3.9).</summary>
    public DateTimeOffset? WillRetryUntil { get; init; }
}
