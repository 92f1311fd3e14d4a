using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>Where an SMTP session stands in RFC 5321's command sequence (s4.1.4, s4.3.2).</summary>
internal enum SessionState
{
    /// <summary>Greeting sent, no HELO/EHLO yet.</summary>
    Connected,

    /// <summary>HELO/EHLO done, no transaction.</summary>
    Ready,

    /// <summary>MAIL accepted.</summary>
    HasSender,

    /// <summary>At least one RCPT accepted.</summary>
    HasRecipients,

    /// <summary>A BDAT chunk without LAST was received (RFC 3030 s2): only BDAT, RSET, NOOP, QUIT follow.</summary>
    InChunks,
}

/// <summary>
/// The table of legal commands per state, in one place: which reply a command gets when the
/// state forbids it (null = allowed). The session applies the state change after a positive reply.
/// </summary>
internal static class SessionRules
{
    public static SmtpReply? Check(SessionState state, SmtpVerb verb) => (verb, state) switch
    {
        (SmtpVerb.Helo or SmtpVerb.Ehlo, SessionState.InChunks) => Replies.BadSequence,
        (SmtpVerb.Helo or SmtpVerb.Ehlo, _) => null,
        (SmtpVerb.Quit or SmtpVerb.Rset or SmtpVerb.Noop, _) => null,
        (SmtpVerb.Help or SmtpVerb.Vrfy or SmtpVerb.Expn or SmtpVerb.Verb, SessionState.InChunks) => Replies.BadSequence,
        (SmtpVerb.Help or SmtpVerb.Vrfy or SmtpVerb.Expn or SmtpVerb.Verb, _) => null,
        (_, SessionState.Connected) => Replies.NeedHelo,
        (SmtpVerb.Mail, SessionState.Ready) => null,
        (SmtpVerb.Mail, _) => Replies.NestedMail,
        (SmtpVerb.Rcpt, SessionState.HasSender or SessionState.HasRecipients) => null,
        (SmtpVerb.Rcpt, SessionState.Ready) => Replies.NeedMail,
        (SmtpVerb.Data, SessionState.HasRecipients) => null,
        (SmtpVerb.Data, SessionState.Ready) => Replies.NeedMail,
        (SmtpVerb.Data, SessionState.HasSender) => Replies.NeedRcpt,
        (SmtpVerb.Bdat, SessionState.HasRecipients or SessionState.InChunks) => null,
        (SmtpVerb.Bdat, SessionState.Ready) => Replies.NeedMail,
        (SmtpVerb.Bdat, SessionState.HasSender) => Replies.NeedRcpt,
        (SmtpVerb.StartTls or SmtpVerb.Auth, SessionState.Ready) => null,
        _ => Replies.BadSequence,
    };
}
