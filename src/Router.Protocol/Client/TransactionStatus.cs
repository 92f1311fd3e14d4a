namespace Router.Protocol.Client;

/// <summary>How far one mail transaction (RFC 5321 s3.3) got.</summary>
public enum TransactionStatus
{
    /// <summary>DATA was answered: either its final reply after the dot or its rejection of DATA itself.</summary>
    Completed,

    /// <summary>MAIL was refused; nothing more applies.</summary>
    MailRejected,

    /// <summary>No RCPT was accepted: DATA was not sent (or only a lone dot, if a pipelining peer said 354) and RSET followed.</summary>
    NoRecipientAccepted,

    /// <summary>The peer answered 421 after accepting MAIL (RFC 5321 s3.8): DataReply holds it, for every recipient not already refused.</summary>
    ServiceClosing,

    /// <summary>Not sent: the body exceeds the SIZE the peer announced (RFC 1870 s6).</summary>
    MessageTooLarge,

    /// <summary>Not sent: the message needs SMTPUTF8 and the peer does not offer it (RFC 6531 s3.2, 5.6.7).</summary>
    SmtpUtf8NotSupported,
}
