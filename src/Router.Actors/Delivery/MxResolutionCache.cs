using System.Collections.Concurrent;

namespace Router.Actors.Delivery;

/// <summary>
/// Remembers resolutions for the TTL of the DNS answers they came from (RFC 1035 s3.2.1; negative
/// answers per RFC 2308), clamped by the caller to a floor and a ceiling. Expired entries are
/// dropped when read, and swept when the cache grows past a bound.
/// </summary>
internal sealed class MxResolutionCache(TimeProvider clock, int sweepAbove = 10_000)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public bool TryGet(string key, out MxResolution resolution)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            if (entry.Expires > clock.GetUtcNow())
            {
                resolution = entry.Resolution;
                return true;
            }
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }
        resolution = null!;
        return false;
    }

    public void Add(string key, MxResolution resolution, TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero) return;
        var now = clock.GetUtcNow();
        _entries[key] = new Entry(resolution, now + ttl);
        if (_entries.Count > sweepAbove)
        {
            foreach (var (k, e) in _entries)
            {
                if (e.Expires <= now) _entries.TryRemove(new KeyValuePair<string, Entry>(k, e));
            }
        }
    }

    private sealed record Entry(MxResolution Resolution, DateTimeOffset Expires);
}
