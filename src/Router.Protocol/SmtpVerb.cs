namespace Router.Protocol;

/// <summary>The SMTP commands Router knows (RFC 5321 s4.1.1, RFC 3207, RFC 3030, RFC 4954).</summary>
public enum SmtpVerb
{
    Unknown,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Help,
    Vrfy,
    Expn,
    Verb,
    StartTls,
    Auth,
}
