namespace Router.Protocol.Client;

/// <summary>
/// Broken I/O or a broken peer on an outbound connection: the connection is unusable afterwards.
/// SMTP refusals (4xx/5xx to a command) are never thrown; they are replies in the results.
/// </summary>
public sealed class SmtpClientException : Exception
{
    public SmtpClientException(SmtpClientErrorKind kind, string message, SmtpReply? reply = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Reply = reply;
    }

    public SmtpClientErrorKind Kind { get; }

    /// <summary>The reply that caused the failure, when there was one (a rejecting greeting).</summary>
    public SmtpReply? Reply { get; }
}
