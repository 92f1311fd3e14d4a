namespace Router.Actors.Delivery;

/// <summary>
/// The outcome of resolving a destination domain (RFC 5321 s5.1, RFC 7505). Permanent outcomes
/// bounce: <see cref="NullMx"/> with 5.1.10, <see cref="NoSuchDomain"/> with 5.1.2,
/// <see cref="NoRoute"/> with 5.4.4, <see cref="LoopsBack"/> with 5.4.6; a
/// <see cref="TemporaryFailure"/> defers the mail for a later retry.
/// </summary>
public abstract record MxResolution
{
    private MxResolution() { }

    /// <summary>Hosts to try in order, each with at least one address.</summary>
    public sealed record Resolved(IReadOnlyList<MxHost> Hosts) : MxResolution;

    /// <summary>The domain publishes a null MX (RFC 7505): it accepts no mail.</summary>
    public sealed record NullMx : MxResolution;

    /// <summary>The domain does not exist (an authoritative NXDOMAIN).</summary>
    public sealed record NoSuchDomain : MxResolution;

    /// <summary>
    /// DNS says authoritatively that there is nowhere to deliver: neither MX nor address records
    /// for the domain, or MX hosts that do not exist or have no address (RFC 5321 s5.1: "MUST be
    /// reported as an error"; Postfix bounces with 5.4.4). A lookup that failed is temporary instead.
    /// </summary>
    public sealed record NoRoute(string Reason) : MxResolution;

    /// <summary>
    /// The best host for the domain is this router itself (RFC 5321 s5.1: it discards itself and
    /// every host of equal or worse preference, and with none left the mail is undeliverable).
    /// </summary>
    public sealed record LoopsBack : MxResolution;

    /// <summary>SERVFAIL, REFUSED, a timeout, or no address for any host: try again later.</summary>
    public sealed record TemporaryFailure(string Reason) : MxResolution;
}
