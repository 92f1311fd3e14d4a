using System.Globalization;
using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Router.Protocol.Delivery;
using MxRecord = Router.Protocol.Delivery.MxRecord;

namespace Router.Actors.Delivery;

/// <summary>
/// Resolves a destination domain to the hosts to deliver to (RFC 5321 s5.1): a static route if
/// one matches, else the MX records (null MX per RFC 7505, implicit MX when there are none), each
/// host's A then AAAA addresses. NXDOMAIN, null MX and authoritative answers that leave no host
/// with an address are permanent; SERVFAIL, REFUSED and timeouts are temporary. Results are
/// cached for their TTL; hosts of equal preference are shuffled again for each caller.
/// </summary>
public sealed class MxResolver : IMxResolver
{
    private readonly MxResolverOptions _options;
    private readonly LookupClient _dns;
    private readonly Random _random;
    private readonly object _randomLock = new();
    private readonly MxResolutionCache _cache;
    private readonly Dictionary<string, StaticRoute> _routes;
    private static readonly IdnMapping Idn = new();

    /// <summary>MX hosts whose addresses are looked up (and cached) per domain, best first.</summary>
    private int LookedUpHosts => _options.MaxHosts * 4;

    /// <param name="random">Shuffles MX hosts of equal preference; seed it in tests.</param>
    /// <param name="clock">Drives cache expiry; a fake one in tests.</param>
    public MxResolver(MxResolverOptions options, Random? random = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _random = random ?? new Random();
        _cache = new MxResolutionCache(clock ?? TimeProvider.System);
        _routes = options.StaticRoutes.ToDictionary(
            r => r.Key.Trim().TrimEnd('.').ToLowerInvariant(),
            r => StaticRoute.Parse(r.Value, options.MxPort),
            StringComparer.Ordinal);

        // We cache whole resolutions, with our own floor and ceiling.
        _dns = DnsLookupClient.Create(options.NameServers, options.QueryTimeout);
    }

    public async Task<MxResolution> ResolveAsync(string domain, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(domain);
        if (TryAddressLiteral(domain, out var literal))
            return WithoutSelf(new MxResolution.Resolved([new MxHost(domain, [literal], _options.MxPort)]));
        if (!TryNormalize(domain, out var name)) return new MxResolution.NoSuchDomain();

        if (!_cache.TryGet(name, out var result))
        {
            TimeSpan ttl;
            (result, ttl) = FindRoute(name) is { } route
                ? await ResolveRouteAsync(route, ct).ConfigureAwait(false)
                : await ResolveMxAsync(name, ct).ConfigureAwait(false);
            if (result is MxResolution.Resolved resolved) result = WithoutSelf(resolved);

            // Temporary failures are not cached: the retry that follows them must ask DNS again.
            if (result is not MxResolution.TemporaryFailure)
                _cache.Add(name, result, Clamp(ttl));
        }
        return result is MxResolution.Resolved hosts ? Spread(hosts) : result;
    }

    /// <summary>
    /// RFC 5321 s5.1: hosts of equal preference "MUST" be tried in random order to spread the
    /// load. The cache keeps a resolution for its TTL, so each attempt gets its own order here
    /// (the cached one would send every attempt to the same host for up to an hour); then the
    /// best <see cref="MxResolverOptions.MaxHosts"/> of them.
    /// </summary>
    private MxResolution.Resolved Spread(MxResolution.Resolved resolved)
    {
        var hosts = resolved.Hosts.ToArray();
        lock (_randomLock)
        {
            for (var start = 0; start < hosts.Length;)
            {
                var end = start + 1;
                while (end < hosts.Length && hosts[end].Preference == hosts[start].Preference) end++;
                _random.Shuffle(hosts.AsSpan(start, end - start));
                start = end;
            }
        }
        return new MxResolution.Resolved(hosts.Length > _options.MaxHosts ? hosts[.._options.MaxHosts] : hosts);
    }

    private async Task<(MxResolution, TimeSpan)> ResolveMxAsync(string name, CancellationToken ct)
    {
        var mx = await QueryAsync(name, QueryType.MX, ct).ConfigureAwait(false);
        switch (mx.Status)
        {
            case LookupStatus.Failed:
                return (new MxResolution.TemporaryFailure(mx.Reason), TimeSpan.Zero);
            case LookupStatus.NxDomain:
                return (new MxResolution.NoSuchDomain(), mx.Ttl);
        }

        var records = mx.Records.OfType<DnsClient.Protocol.MxRecord>()
            .Select(r => new MxRecord(r.Preference, r.Exchange.Value));
        MxSelection selection;
        // More hosts than are tried per attempt, so that which of many equal ones are tried varies too (Spread).
        lock (_randomLock) selection = MxSelector.Select(records, _random, LookedUpHosts);

        if (selection.IsNullMx) return (new MxResolution.NullMx(), mx.Ttl);

        if (selection.IsImplicit)
        {
            // RFC 5321 s5.1: no MX records, so the domain itself is the only host (implicit MX).
            var self = await LookupHostAsync(name, ct).ConfigureAwait(false);
            var ttl = Min(mx.Ttl, self.Ttl);
            return self.Status switch
            {
                LookupStatus.Found => (new MxResolution.Resolved([new MxHost(name, self.Addresses, _options.MxPort)]), ttl),
                LookupStatus.NxDomain => (new MxResolution.NoSuchDomain(), ttl),
                LookupStatus.NoData => (new MxResolution.NoRoute($"{name} has no MX and no address records"), ttl),
                _ => (new MxResolution.TemporaryFailure(self.Reason), TimeSpan.Zero),
            };
        }

        var lookups = await Task.WhenAll(selection.Hosts.Select(h => LookupHostAsync(h.Exchange, ct))).ConfigureAwait(false);
        var hosts = new List<MxHost>(lookups.Length);
        var problems = new List<string>();
        var minTtl = mx.Ttl;
        var partial = false;
        for (var i = 0; i < lookups.Length; i++)
        {
            var lookup = lookups[i];
            var host = selection.Hosts[i].Exchange;
            minTtl = Min(minTtl, lookup.Ttl);
            partial |= lookup.Status == LookupStatus.Failed || lookup.PartlyFailed;
            if (lookup.Status == LookupStatus.Found)
                hosts.Add(new MxHost(host, lookup.Addresses, _options.MxPort, selection.Hosts[i].Preference));
            else
                problems.Add(lookup.Status == LookupStatus.Failed ? lookup.Reason : $"{host}: {Describe(lookup.Status)}");
        }

        if (hosts.Count == 0)
        {
            var why = $"no MX host of {name} has an address ({string.Join("; ", problems)})";
            return partial ? (new MxResolution.TemporaryFailure(why), TimeSpan.Zero) : (new MxResolution.NoRoute(why), minTtl);
        }

        // A host left out only because its lookup failed should be retried soon, not after the TTL.
        return (new MxResolution.Resolved(hosts), partial ? TimeSpan.Zero : minTtl);
    }

    /// <summary>
    /// RFC 5321 s5.1: a client that finds its own host among the MX hosts discards it and every
    /// host of equal or worse preference; when none is left, the mail would only loop back here
    /// (Postfix: "mail for domain loops back to myself"). A host is this router when one of its
    /// addresses, on the port it would be reached on, is one of the router's listeners.
    /// </summary>
    private MxResolution WithoutSelf(MxResolution.Resolved resolved)
    {
        if (_options.IsSelf is not { } isSelf) return resolved;
        var self = resolved.Hosts.FirstOrDefault(h => h.Addresses.Any(a => isSelf(a, h.Port)));
        if (self is null) return resolved;
        var better = resolved.Hosts.Where(h => h.Preference < self.Preference).ToArray();
        return better.Length == 0 ? new MxResolution.LoopsBack() : new MxResolution.Resolved(better);
    }

    private async Task<(MxResolution, TimeSpan)> ResolveRouteAsync(StaticRoute route, CancellationToken ct)
    {
        if (route.Address is not null)
            return (new MxResolution.Resolved([new MxHost(route.Host, [route.Address], route.Port)]), _options.MaxCacheTtl);

        // A broken route is a configuration mistake: defer the mail rather than bounce it.
        var lookup = await LookupHostAsync(route.Host, ct).ConfigureAwait(false);
        return lookup.Status == LookupStatus.Found
            ? (new MxResolution.Resolved([new MxHost(route.Host, lookup.Addresses, route.Port)]), lookup.PartlyFailed ? TimeSpan.Zero : lookup.Ttl)
            : (new MxResolution.TemporaryFailure(lookup.Status == LookupStatus.Failed
                ? lookup.Reason
                : $"static route host {route.Host}: {Describe(lookup.Status)}"), TimeSpan.Zero);
    }

    /// <summary>A then AAAA (RFC 5321 s5.1 leaves the order to the client; IPv4 first is the safer default).</summary>
    private async Task<HostLookup> LookupHostAsync(string host, CancellationToken ct)
    {
        var v4Task = QueryAsync(host, QueryType.A, ct);
        var v6Task = _options.UseIpv6 ? QueryAsync(host, QueryType.AAAA, ct) : null;
        var v4 = await v4Task.ConfigureAwait(false);
        var v6 = v6Task is null ? null : await v6Task.ConfigureAwait(false);

        var addresses = new List<IPAddress>();
        addresses.AddRange(v4.Records.OfType<ARecord>().Select(r => r.Address));
        if (v6 is not null) addresses.AddRange(v6.Records.OfType<AaaaRecord>().Select(r => r.Address));
        // The addresses live as long as the records that gave them; a NODATA beside them (no AAAA,
        // usually without an SOA, so TTL 0) says nothing about how long the A records stay valid.
        var answered = new[] { v4, v6 }.Where(l => l is not null && l.Status != LookupStatus.Failed).Select(l => l!).ToList();
        var positive = answered.Where(l => l.Status == LookupStatus.Found).ToList();
        var ttlSource = positive.Count > 0 ? positive : answered;
        var ttl = ttlSource.Count == 0 ? TimeSpan.Zero : ttlSource.Min(l => l.Ttl);
        var failed = v4.Status == LookupStatus.Failed || v6?.Status == LookupStatus.Failed;

        if (addresses.Count > 0) return new HostLookup(LookupStatus.Found, addresses, ttl, "", failed);
        if (failed)
        {
            var reason = v4.Status == LookupStatus.Failed ? v4.Reason : v6!.Reason;
            return new HostLookup(LookupStatus.Failed, [], TimeSpan.Zero, reason, true);
        }
        var status = v4.Status == LookupStatus.NxDomain || v6?.Status == LookupStatus.NxDomain ? LookupStatus.NxDomain : LookupStatus.NoData;
        return new HostLookup(status, [], ttl, "", false);
    }

    private async Task<Lookup> QueryAsync(string name, QueryType type, CancellationToken ct)
    {
        IDnsQueryResponse response;
        try
        {
            response = await _dns.QueryAsync(name, type, QueryClass.IN, ct).ConfigureAwait(false);
        }
        catch (DnsResponseException ex)
        {
            // DnsClient reports our own cancellation as a timeout: let cancellation be cancellation.
            ct.ThrowIfCancellationRequested();
            return Lookup.Fail($"{type} {name}: {ex.Code}: {ex.Message}");
        }
        catch (ArgumentException)
        {
            // DnsClient rejects names that cannot exist in DNS (label too long and the like).
            return new Lookup(LookupStatus.NxDomain, [], TimeSpan.Zero, "");
        }

        switch (response.Header.ResponseCode)
        {
            case DnsHeaderResponseCode.NoError:
                var answers = response.Answers;
                var ttl = answers.Count == 0 ? DnsLookupClient.NegativeTtl(response) : DnsLookupClient.AnswerTtl(answers);
                return new Lookup(answers.Count == 0 ? LookupStatus.NoData : LookupStatus.Found, answers, ttl, "");
            case DnsHeaderResponseCode.NotExistentDomain:
                return new Lookup(LookupStatus.NxDomain, [], DnsLookupClient.NegativeTtl(response), "");
            default:
                // SERVFAIL, REFUSED (dnsmasq's answer outside its local zones), FORMERR...: all temporary.
                return Lookup.Fail($"{type} {name}: {response.Header.ResponseCode} from {response.NameServer}");
        }
    }

    private StaticRoute? FindRoute(string name)
    {
        if (_routes.Count == 0) return null;
        if (_routes.TryGetValue(name, out var exact)) return exact;
        for (var dot = name.IndexOf('.', StringComparison.Ordinal); dot >= 0; dot = name.IndexOf('.', dot + 1))
        {
            if (_routes.TryGetValue(name[dot..], out var parent)) return parent;
        }
        return _routes.GetValueOrDefault("*");
    }

    private TimeSpan Clamp(TimeSpan ttl) =>
        ttl < _options.MinCacheTtl ? _options.MinCacheTtl : ttl > _options.MaxCacheTtl ? _options.MaxCacheTtl : ttl;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Describe(LookupStatus status) => status switch
    {
        LookupStatus.NxDomain => "no such host",
        LookupStatus.NoData => "no A/AAAA record",
        _ => status.ToString(),
    };

    /// <summary>Lower case, no trailing dot, IDNA A-labels (RFC 5890) so UTF-8 domains can be queried.</summary>
    private static bool TryNormalize(string domain, out string name)
    {
        name = domain.Trim().TrimEnd('.').ToLowerInvariant();
        if (name.Length == 0) return false;
        if (name.Any(c => c > 0x7f))
        {
            try
            {
                name = Idn.GetAscii(name);
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
        return name.Length <= 253 && name.Split('.').All(l => l.Length is > 0 and <= 63);
    }

    /// <summary>RFC 5321 s4.1.3 address literals: "[192.0.2.1]" or "[IPv6:2001:db8::1]" need no DNS.</summary>
    private static bool TryAddressLiteral(string domain, out IPAddress address)
    {
        address = IPAddress.None;
        var d = domain.Trim();
        if (d.Length < 3 || d[0] != '[' || d[^1] != ']') return false;
        var inner = d[1..^1];
        if (inner.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
            return IPAddress.TryParse(inner[5..], out address!) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        return IPAddress.TryParse(inner, out address!) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
    }

    private enum LookupStatus { Found, NoData, NxDomain, Failed }

    private sealed record Lookup(LookupStatus Status, IReadOnlyList<DnsResourceRecord> Records, TimeSpan Ttl, string Reason)
    {
        public static Lookup Fail(string reason) => new(LookupStatus.Failed, [], TimeSpan.Zero, reason);
    }

    private sealed record HostLookup(LookupStatus Status, IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl, string Reason, bool PartlyFailed);
}
