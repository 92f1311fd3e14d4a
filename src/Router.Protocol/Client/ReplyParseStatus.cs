namespace Router.Protocol.Client;

/// <summary>The outcome of one attempt to cut a complete reply off the front of the received bytes.</summary>
internal enum ReplyParseStatus
{
    /// <summary>The reply's last line has not arrived yet; read more and try again.</summary>
    Incomplete,

    Complete,

    /// <summary>The bytes can never become a valid reply; the connection must be dropped.</summary>
    Malformed,
}
