using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace Router.Actors.Delivery;

/// <summary>
/// The one way the node asks DNS: router.dns.servers in their configured order (empty: the
/// system's resolvers), router.dns.timeout per query, retried once. Shared by the MX lookups of
/// relayed mail (<see cref="MxResolver"/>) and the DNSBL lookups of inbound clients, so both see
/// the same name servers. Errors come back as response codes, never as exceptions, and nothing is
/// cached here: each user caches what it derives, for the TTLs it read.
/// </summary>
internal static class DnsLookupClient
{
    public static LookupClient Create(IReadOnlyList<string> nameServers, TimeSpan timeout)
    {
        var servers = nameServers.Select(ParseNameServer).ToArray();
        var lookup = servers.Length == 0 ? new LookupClientOptions() : new LookupClientOptions(servers);
        lookup.UseCache = false;
        lookup.Timeout = timeout;
        lookup.Retries = 1;
        lookup.ThrowDnsErrors = false;      // NXDOMAIN, SERVFAIL, REFUSED come back as response codes
        lookup.ContinueOnDnsError = true;   // an erring server hands over to the next configured one
        lookup.ContinueOnEmptyResponse = false; // NODATA is an answer, not a failure
        lookup.UseRandomNameServer = false; // the configured order is the order of preference
        return new LookupClient(lookup);
    }

    /// <summary>
    /// How long answers may be kept: their smallest TTL as received (zero without any). Not
    /// DnsClient's <c>TimeToLive</c>, which counts down with each second of the machine's uptime
    /// that begins after the answer was parsed: read a moment later it can be a second short, and
    /// the caller counts the lifetime on its own clock from when it stores the answer.
    /// </summary>
    public static TimeSpan AnswerTtl(IEnumerable<DnsResourceRecord> records) =>
        TimeSpan.FromSeconds(records.Select(r => Math.Max(r.InitialTimeToLive, 0)).DefaultIfEmpty(0).Min());

    /// <summary>RFC 2308 s5: a negative answer lives for min(SOA TTL, SOA MINIMUM); without an SOA, not at all.</summary>
    public static TimeSpan NegativeTtl(IDnsQueryResponse response)
    {
        var soa = response.Authorities.OfType<SoaRecord>().FirstOrDefault();
        return soa is null ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(Math.Max(soa.InitialTimeToLive, 0), soa.Minimum));
    }

    /// <summary>"ip:port", or "ip" for port 53; throws FormatException on anything else.</summary>
    public static IPEndPoint ParseNameServer(string text)
    {
        // IPEndPoint parses "1.2.3.4:53" and "[::1]:53"; without a port it leaves 0, meaning 53.
        if (!IPEndPoint.TryParse(text.Trim(), out var ep))
            throw new FormatException($"name server '{text}' is not of the form ip:port");
        if (ep.Port == 0) ep.Port = 53;
        return ep;
    }
}
