namespace Router.Actors.Smtp;

/// <summary>What a listening endpoint is for; the session's policy follows from it.</summary>
public enum SmtpEndpointKind
{
    /// <summary>Mail from other servers (port 25): STARTTLS offered, AUTH only with router.smtp.mta-auth, relaying only for trusted (or authenticated) clients.</summary>
    Mta,

    /// <summary>Message submission (RFC 6409, port 587): STARTTLS, then AUTH before MAIL.</summary>
    Submission,

    /// <summary>Message submission over implicit TLS (RFC 8314, port 465): TLS from the first byte.</summary>
    ImplicitTlsSubmission,
}
