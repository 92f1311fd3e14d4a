namespace Router.Protocol.Dsn;

/// <summary>
/// Which delivery status notification to send (RFC 3464 s2.3.3 Action): a bounce for
/// recipients that failed for good, or a warning for recipients still being retried.
/// </summary>
public enum DsnKind
{
    /// <summary>Action: failed; the status is permanent (5.x.x).</summary>
    Failure,

    /// <summary>Action: delayed; the status is transient (4.x.x) and delivery goes on.</summary>
    Delay,
}
