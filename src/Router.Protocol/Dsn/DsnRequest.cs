namespace Router.Protocol.Dsn;

/// <summary>
/// Everything a DSN (RFC 3464) is made from: the kind, the reporting host, the original
/// envelope (sender, ENVID, RET) and message, and the recipients it reports on. The DSN goes to
/// <see cref="Sender"/> and must be sent with a null reverse-path, MAIL FROM:&lt;&gt;
/// (RFC 5321 s4.5.5, RFC 3464 s2), so that it can never cause another DSN.
/// </summary>
/// <param name="ReportingMta">This host's name: Reporting-MTA and the MAILER-DAEMON address.</param>
/// <param name="Sender">The original envelope sender; never null (no DSN is sent for a null sender).</param>
/// <param name="OriginalMessage">The message as it was queued (headers and body), CRLF line endings.</param>
/// <param name="ArrivalDate">When this MTA accepted the message.</param>
public sealed record DsnRequest(
    DsnKind Kind,
    string ReportingMta,
    MailAddress Sender,
    IReadOnlyList<DsnRecipient> Recipients,
    ReadOnlyMemory<byte> OriginalMessage,
    DateTimeOffset ArrivalDate)
{
    /// <summary>The ENVID parameter (RFC 3461 s4.4), xtext already decoded.</summary>
    public string? OriginalEnvelopeId { get; init; }

    /// <summary>RET=FULL (RFC 3461 s4.3): return the whole message, not only its headers.</summary>
    public bool ReturnFullMessage { get; init; }

    /// <summary>A larger message is returned as headers only even with RET=FULL (as Postfix's bounce_size_limit).</summary>
    public int MaxReturnedMessageSize { get; init; } = 100 * 1024;

    /// <summary>The DSN's Date; now when not given.</summary>
    public DateTimeOffset? Date { get; init; }

    /// <summary>The DSN's Message-ID (without angle brackets); generated when not given.</summary>
    public string? MessageId { get; init; }
}
