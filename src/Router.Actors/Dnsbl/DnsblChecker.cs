using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Router.Actors.Admin;

namespace Router.Actors.Dnsbl;

/// <summary>
/// Looks a client up in the DNS blocklists of router.smtp.dnsbl (RFC 5782), as Postfix's
/// reject_rbl_client does: the client's reversed address under each zone (<see cref="DnsblQueryName"/>),
/// an A record that the entry's filter takes is a listing, and the list's TXT record for the
/// client, if any, is the reason quoted. Every list is asked at once; the verdict names the first
/// listing one in the configured order. A lookup that fails (a timeout, SERVFAIL, REFUSED) lists
/// nobody: mail is not refused because a list is down (fail open, warned of per zone at most once
/// a minute). Answers are cached for their TTL (<see cref="DnsblCache{TKey, TValue}"/>).
/// </summary>
public sealed class DnsblChecker
{
    /// <summary>Answers kept at most (a few MB); a busy MX sees fewer distinct clients within the TTLs lists use.</summary>
    private const int CacheCapacity = 10_000;

    private static readonly TimeSpan MaxCacheTtl = TimeSpan.FromHours(1);

    private readonly IDnsQuery _dns;
    private readonly DnsblCache<(int Site, string Name), Answer> _cache;
    private readonly DnsblFailureLog _failures;

    /// <param name="dns">The node's DNS client (router.dns.servers and timeout, see Delivery.DnsLookupClient).</param>
    /// <param name="warn">Where a failed lookup is reported (a warning in the log).</param>
    /// <param name="clock">Drives cache expiry and the warnings' pace; a fake one in tests.</param>
    public DnsblChecker(IReadOnlyList<DnsblSite> sites, IDnsQuery dns, Action<string> warn, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(sites);
        Sites = sites;
        _dns = dns;
        _cache = new(clock ?? TimeProvider.System, CacheCapacity, MaxCacheTtl);
        _failures = new DnsblFailureLog(warn, clock ?? TimeProvider.System);
    }

    public IReadOnlyList<DnsblSite> Sites { get; }

    /// <summary>Answers cached or in flight.</summary>
    internal int CachedAnswers => _cache.Count;

    /// <summary>The first list, in configured order, that lists <paramref name="client"/>; null when none does or could say. Never throws.</summary>
    public async Task<DnsblListing?> CheckAsync(IPAddress client)
    {
        var answers = new Task<Answer>[Sites.Count];
        for (var i = 0; i < answers.Length; i++)
        {
            var site = Sites[i];
            var name = DnsblQueryName.For(client, site.Zone);
            answers[i] = _cache.GetOrLookUp((i, name), () => LookUpAsync(site, name));
        }
        for (var i = 0; i < answers.Length; i++)
        {
            Answer answer;
            try
            {
                answer = await answers[i].ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _failures.Failed(Sites[i].Zone, DnsblQueryName.For(client, Sites[i].Zone), e.Message);
                continue;
            }
            if (answer.Listed) return new DnsblListing(client, Sites[i].Zone, answer.Text);
        }
        return null;
    }

    /// <summary>The A records, and the TXT records when an A record lists the client; with how long the answer may be kept.</summary>
    private async Task<(Answer, TimeSpan)> LookUpAsync(DnsblSite site, string name)
    {
        var (a, failure) = await QueryAsync(name, QueryType.A).ConfigureAwait(false);
        if (a is null)
        {
            RouterMetrics.DnsblLookupFailed(site.Zone);
            _failures.Failed(site.Zone, name, failure!);
            return (Answer.NotListed, TimeSpan.Zero);
        }
        if (a.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain) return (Answer.NotListed, NegativeTtl(a));
        var records = a.Answers.ARecords().ToArray();
        if (records.Length == 0) return (Answer.NotListed, NegativeTtl(a));
        var ttl = Ttl(a.Answers);
        if (!records.Any(r => site.Counts(r.Address))) return (Answer.NotListed, ttl);

        var (txt, _) = await QueryAsync(name, QueryType.TXT).ConfigureAwait(false);
        // A listing without its reason is still a listing; it is asked for again next time.
        if (txt is null) return (new Answer(true, null), TimeSpan.Zero);
        var texts = txt.Answers.TxtRecords().Select(t => string.Concat(t.Text)).Where(t => t.Length > 0).ToArray();
        if (texts.Length > 0) ttl = Min(ttl, Ttl(txt.Answers));
        return (new Answer(true, texts.Length == 0 ? null : string.Join("; ", texts)), ttl);
    }

    /// <summary>The response (NOERROR or NXDOMAIN), or null and why the lookup failed (a timeout, SERVFAIL, REFUSED...).</summary>
    private async Task<(IDnsQueryResponse? Response, string? Failure)> QueryAsync(string name, QueryType type)
    {
        try
        {
            var response = await _dns.QueryAsync(name, type, QueryClass.IN).ConfigureAwait(false);
            return response.Header.ResponseCode is DnsHeaderResponseCode.NoError or DnsHeaderResponseCode.NotExistentDomain
                ? (response, null)
                : (null, $"{type}: {response.Header.ResponseCode} from {response.NameServer}");
        }
        catch (Exception e) when (e is DnsResponseException or ArgumentException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            return (null, $"{type}: {e.Message}");
        }
    }

    private static TimeSpan Ttl(IEnumerable<DnsResourceRecord> records) =>
        TimeSpan.FromSeconds(records.Select(r => Math.Max(r.TimeToLive, 0)).DefaultIfEmpty(0).Min());

    /// <summary>RFC 2308 s5: a negative answer lives for min(SOA TTL, SOA MINIMUM); without an SOA, not at all.</summary>
    private static TimeSpan NegativeTtl(IDnsQueryResponse response)
    {
        var soa = response.Authorities.OfType<SoaRecord>().FirstOrDefault();
        return soa is null ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(Math.Max(soa.TimeToLive, 0), soa.Minimum));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>One list's answer for one client: listed (with the TXT text, if any) or not.</summary>
    private sealed record Answer(bool Listed, string? Text)
    {
        public static readonly Answer NotListed = new(false, null);
    }
}
