namespace Router.Protocol.Client;

/// <summary>
/// The envelope of one outbound transaction (RFC 5321 s3.3): the reverse path ("" for the null
/// sender of a DSN), the forward paths, and the MAIL parameters the message needs:
/// SMTPUTF8 (RFC 6531), BODY=8BITMIME (RFC 6152), SIZE (RFC 1870), and the DSN parameters
/// (RFC 3461) that go to a peer offering DSN.
/// </summary>
public sealed record SmtpEnvelope(string ReversePath, IReadOnlyList<string> Recipients)
{
    /// <summary>ENVID as the client gave it (xtext), passed on to a peer offering DSN (RFC 3461 s5.2.1).</summary>
    public string? EnvelopeId { get; init; }

    /// <summary>RET as the client gave it (FULL, HDRS or none); passed on to a peer offering DSN.</summary>
    public DsnReturn Return { get; init; }

    /// <summary>NOTIFY and ORCPT of each recipient, in <see cref="Recipients"/> order; null: none given.</summary>
    public IReadOnlyList<RecipientDsn>? RecipientDsn { get; init; }

    /// <summary>The message needs SMTPUTF8 (UTF-8 headers); also implied by a non-ASCII address.</summary>
    public bool SmtpUtf8 { get; init; }

    /// <summary>The body has 8-bit content: BODY=8BITMIME is declared when the peer offers it.</summary>
    public bool EightBitMime { get; init; }

    /// <summary>The SIZE= to declare; null declares the body's length.</summary>
    public long? Size { get; init; }

    /// <summary>True when SMTPUTF8 is flagged or any path is non-ASCII.</summary>
    public bool RequiresSmtpUtf8 => SmtpUtf8 || !IsAscii(ReversePath) || Recipients.Any(r => !IsAscii(r));

    private static bool IsAscii(string s) => System.Text.Ascii.IsValid(s);
}

/// <summary>The DSN parameters of one recipient (RFC 3461 s4.1, s4.2): NOTIFY (None = absent) and ORCPT as given ("type;xtext").</summary>
public sealed record RecipientDsn(DsnNotify Notify, string? OriginalRecipient);
