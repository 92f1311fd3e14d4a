using System.Collections.Concurrent;

namespace Router.Actors.Dnsbl;

/// <summary>
/// Warns of DNSBL lookups that failed (a timeout, SERVFAIL, REFUSED): the client was let through
/// by that list (fail open), which the operator must hear of, but a list that is down fails for
/// every client. So at most one warning per zone per <see cref="Interval"/>, counting the failures
/// it did not report.
/// </summary>
internal sealed class DnsblFailureLog(Action<string> warn, TimeProvider clock)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, ZoneState> _zones = new(StringComparer.Ordinal);

    public void Failed(string zone, string name, string reason)
    {
        var state = _zones.GetOrAdd(zone, _ => new ZoneState());
        var now = clock.GetUtcNow();
        int unreported;
        lock (state)
        {
            if (state.LastWarning is { } last && now - last < Interval)
            {
                state.Unreported++;
                return;
            }
            unreported = state.Unreported;
            state.LastWarning = now;
            state.Unreported = 0;
        }
        var more = unreported > 0 ? $" ({unreported} more failures since the last warning)" : "";
        warn($"dnsbl: {zone}: lookup of {name} failed: {reason}; the client is not refused by this list (fail open){more}");
    }

    private sealed class ZoneState
    {
        public DateTimeOffset? LastWarning { get; set; }
        public int Unreported { get; set; }
    }
}
