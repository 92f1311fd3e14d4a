using System.Net;

namespace Router.Actors.Delivery;

/// <summary>
/// Settings of <see cref="MxResolver"/> (RFC 5321 s5.1 lookups). Name servers are "ip:port"
/// strings ("ip" alone means port 53); an empty list means the system's resolvers.
/// Static routes map a domain to "host:port" and override DNS, like Postfix's transport_maps:
/// keys are a domain, ".parent" for every subdomain of parent, or "*" for everything.
/// </summary>
public sealed record MxResolverOptions
{
    public IReadOnlyList<string> NameServers { get; init; } = [];

    /// <summary>The port of hosts found in DNS (MX or implicit MX). Static routes carry their own.</summary>
    public int MxPort { get; init; } = 25;

    /// <summary>At most this many MX hosts are returned, best first.</summary>
    public int MaxHosts { get; init; } = 5;

    /// <summary>How long one DNS query may take before it is retried once, then given up as temporary.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public IReadOnlyDictionary<string, string> StaticRoutes { get; init; } = new Dictionary<string, string>();

    /// <summary>Floor for caching an answer: dnsmasq's records and negative answers often have TTL 0.</summary>
    public TimeSpan MinCacheTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Ceiling for caching an answer, whatever its TTL.</summary>
    public TimeSpan MaxCacheTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Also look up AAAA records; IPv6 addresses are tried after the IPv4 ones of a host.</summary>
    public bool UseIpv6 { get; init; } = true;

    /// <summary>
    /// Whether an address and port are this router's own SMTP listener (RFC 5321 s5.1: a client
    /// never delivers to itself). Null: nothing is.
    /// </summary>
    public Func<IPAddress, int, bool>? IsSelf { get; init; }
}
