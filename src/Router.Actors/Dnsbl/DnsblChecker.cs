using System.Net;
using DnsClient;
using Router.Actors.Admin;
using Router.Actors.Delivery;

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
    private readonly DnsblCache<(int Site, string Name), DnsblListing?> _cache;
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
        var names = new string[Sites.Count];
        var answers = new Task<DnsblListing?>[Sites.Count];
        for (var i = 0; i < answers.Length; i++)
        {
            var site = Sites[i];
            var name = names[i] = DnsblQueryName.For(client, site.Zone);
            answers[i] = _cache.GetOrLookUp((i, name), () => LookUpAsync(site, name, client));
        }
        for (var i = 0; i < answers.Length; i++)
        {
            try
            {
                if (await answers[i].ConfigureAwait(false) is { } listing) return listing;
            }
            catch (Exception e)
            {
                _failures.Failed(Sites[i].Zone, names[i], e.Message);
            }
        }
        return null;
    }

    /// <summary>
    /// The A records, and the TXT records when an A record lists the client: its listing (null: not
    /// listed), with how long the answer may be kept (the query name holds the client's address).
    /// </summary>
    private async Task<(DnsblListing?, TimeSpan)> LookUpAsync(DnsblSite site, string name, IPAddress client)
    {
        var (a, failure) = await QueryAsync(name, QueryType.A).ConfigureAwait(false);
        if (a is null)
        {
            RouterMetrics.DnsblLookupFailed(site.Zone);
            _failures.Failed(site.Zone, name, failure!);
            return (null, TimeSpan.Zero);
        }
        if (a.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain) return (null, DnsLookupClient.NegativeTtl(a));
        var records = a.Answers.ARecords().ToArray();
        if (records.Length == 0) return (null, DnsLookupClient.NegativeTtl(a));
        var ttl = DnsLookupClient.AnswerTtl(a.Answers);
        if (!records.Any(r => site.Counts(r.Address))) return (null, ttl);

        var (txt, _) = await QueryAsync(name, QueryType.TXT).ConfigureAwait(false);
        // A listing without its reason is still a listing; it is asked for again next time.
        if (txt is null) return (new DnsblListing(client, site.Zone, null), TimeSpan.Zero);
        var texts = txt.Answers.TxtRecords().Select(t => string.Concat(t.Text)).Where(t => t.Length > 0).ToArray();
        if (texts.Length > 0) ttl = Min(ttl, DnsLookupClient.AnswerTtl(txt.Answers));
        return (new DnsblListing(client, site.Zone, texts.Length == 0 ? null : string.Join("; ", texts)), ttl);
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

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
