namespace Router.Protocol.Client;

/// <summary>
/// Why a connection failed as a whole. Every kind means "this host, now, did not work": the
/// caller treats it as a temporary failure and tries the next MX (RFC 5321 s5.1).
/// </summary>
public enum SmtpClientErrorKind
{
    /// <summary>TCP connect refused, unreachable or timed out.</summary>
    ConnectFailed,

    /// <summary>The greeting was not 220 (e.g. 554 or 421, RFC 5321 s3.1); see <see cref="SmtpClientException.Reply"/>.</summary>
    GreetingRejected,

    /// <summary>A reply did not arrive, or a write did not complete, within its RFC 5321 s4.5.3.2 timeout.</summary>
    Timeout,

    /// <summary>The peer closed the connection or the socket failed.</summary>
    ConnectionClosed,

    /// <summary>A reply broke RFC 5321 s4.2 syntax or limits.</summary>
    MalformedReply,

    /// <summary>A well-formed but impossible reply, e.g. 354 to MAIL, or data sent ahead of the TLS handshake.</summary>
    ProtocolViolation,

    /// <summary>The TLS handshake after STARTTLS failed (RFC 3207).</summary>
    TlsFailed,

    /// <summary>The connection was already unusable (after an error, a 421 or QUIT).</summary>
    NotUsable,
}
