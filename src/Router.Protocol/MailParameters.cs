namespace Router.Protocol;

/// <summary>The BODY= values of RFC 1652 (8BITMIME) and RFC 3030 (BINARYMIME, not offered).</summary>
public enum BodyType
{
    SevenBit,
    EightBitMime,
}

/// <summary>
/// The RET parameter of MAIL (RFC 3461 s4.3): what a failure notice returns. <c>None</c> means
/// the parameter was absent: a next hop then gets none either and picks its own default.
/// </summary>
public enum DsnReturn
{
    None,
    Headers,
    Full,
}

/// <summary>
/// A parsed MAIL FROM command: the reverse path (null for the null sender &lt;&gt;) and its ESMTP
/// parameters: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and ENVID (RFC 3461).
/// </summary>
public sealed record MailCommand(
    MailAddress? ReversePath,
    long? DeclaredSize,
    BodyType Body,
    bool SmtpUtf8,
    DsnReturn Return,
    string? EnvelopeId);

/// <summary>DSN NOTIFY flags (RFC 3461 s4.1). <c>None</c> means the parameter was absent.</summary>
[Flags]
public enum DsnNotify
{
    None = 0,
    Never = 1,
    Success = 2,
    Failure = 4,
    Delay = 8,
}

/// <summary>RFC 3461 s4.1: which notices a recipient's NOTIFY asks for.</summary>
public static class DsnNotifyRules
{
    /// <summary>
    /// True when <paramref name="notify"/> asks for a notice of <paramref name="kind"/> (Success,
    /// Failure or Delay). Without NOTIFY the MTA decides: failures and delays, not successes.
    /// </summary>
    public static bool Asks(this DsnNotify notify, DsnNotify kind) =>
        notify == DsnNotify.None ? kind != DsnNotify.Success : (notify & kind) != 0;
}

/// <summary>
/// A parsed RCPT TO command: the forward path and its DSN parameters (RFC 3461 s4).
/// <paramref name="BarePostmaster"/>: the client wrote <c>&lt;Postmaster&gt;</c> without a domain
/// (RFC 5321 s4.1.1.3), and <paramref name="Recipient"/> is the address it is delivered to.
/// </summary>
public sealed record RcptCommand(MailAddress Recipient, DsnNotify Notify, string? OriginalRecipient, bool BarePostmaster = false);
