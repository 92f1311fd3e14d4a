namespace Router.Protocol.Dsn;

/// <summary>
/// Which delivery status notification to send (RFC 3464 s2.3.3 Action): a bounce for
/// recipients that failed for good, a warning for recipients still being retried, or a success
/// notice (RFC 3461 NOTIFY=SUCCESS) for recipients delivered here or relayed onwards.
/// </summary>
public enum DsnKind
{
    /// <summary>Action: failed; the status is permanent (5.x.x).</summary>
    Failure,

    /// <summary>Action: delayed; the status is transient (4.x.x) and delivery goes on.</summary>
    Delay,

    /// <summary>
    /// Action: relayed (2.x.x): handed to a next hop that does not offer DSN, so no notice of the
    /// final delivery can follow (RFC 3461 s5.2.2).
    /// </summary>
    Relayed,

    /// <summary>Action: delivered (2.x.x): the message is in the recipient's mailbox.</summary>
    Delivered,

    /// <summary>
    /// Action: expanded (2.x.x): the recipient is an alias, delivered and forwarded to several
    /// addresses, which get no success notices of their own (RFC 3464 s2.3.3, RFC 3461 s6.2.7.3).
    /// </summary>
    Expanded,
}

public static class DsnKinds
{
    /// <summary>The NOTIFY condition (RFC 3461 s4.1) under which a recipient gets this kind of notice.</summary>
    public static DsnNotify Condition(this DsnKind kind) => kind switch
    {
        DsnKind.Failure => DsnNotify.Failure,
        DsnKind.Delay => DsnNotify.Delay,
        _ => DsnNotify.Success,
    };
}
