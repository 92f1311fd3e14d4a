using System.Collections.Concurrent;

namespace Router.Actors.Dnsbl;

/// <summary>
/// The DNSBL answers of recent clients, each kept for the TTL of the records it came from (RFC
/// 1035 s3.2.1; a negative answer for its SOA's, RFC 2308), at most <paramref name="maxTtl"/>; an
/// answer whose TTL is 0, or a failed lookup, is not kept. A lookup in flight is shared: the
/// sessions a client opens at once wait for one query. Bounded: past <paramref name="capacity"/>
/// entries the expired ones are dropped, then any, so a flood of new addresses cannot grow it.
/// </summary>
internal sealed class DnsblCache<TKey, TValue>(TimeProvider clock, int capacity, TimeSpan maxTtl)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Entry> _entries = new();

    public int Count => _entries.Count;

    /// <summary>
    /// The answer for <paramref name="key"/>: the one kept or in flight, else the one
    /// <paramref name="lookup"/> gives (with the time it may be kept; it must not throw).
    /// </summary>
    public Task<TValue> GetOrLookUp(TKey key, Func<Task<(TValue Value, TimeSpan Ttl)>> lookup)
    {
        var now = clock.GetUtcNow().UtcTicks;
        if (_entries.TryGetValue(key, out var kept) && kept.LiveAt(now)) return kept.Answer;
        var mine = new Entry();
        var entry = _entries.AddOrUpdate(key, mine, (_, old) => old.LiveAt(now) ? old : mine);
        if (entry != mine) return entry.Answer;
        if (_entries.Count > capacity) Trim(now);
        _ = CompleteAsync(key, mine, lookup);
        return mine.Answer;
    }

    private async Task CompleteAsync(TKey key, Entry entry, Func<Task<(TValue Value, TimeSpan Ttl)>> lookup)
    {
        TValue value;
        TimeSpan ttl;
        try
        {
            (value, ttl) = await lookup().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A bug, not an answer: nothing is kept, and the waiting sessions see the fault.
            _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
            entry.Fail(e);
            return;
        }
        if (ttl > maxTtl) ttl = maxTtl;
        if (ttl > TimeSpan.Zero) entry.ExpiresAt(clock.GetUtcNow().UtcTicks + ttl.Ticks);
        else _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        entry.Complete(value);
    }

    /// <summary>Drops the expired entries; when that is not enough, any answered ones, down to 90 % of the capacity.</summary>
    private void Trim(long now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (!entry.LiveAt(now)) _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        }
        var target = capacity * 9 / 10;
        foreach (var (key, entry) in _entries)
        {
            if (_entries.Count <= target) break;
            if (entry.Answer.IsCompleted) _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        }
    }

    private sealed class Entry
    {
        private readonly TaskCompletionSource<TValue> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>UTC ticks after which the answer is stale; long.MaxValue while the lookup runs.</summary>
        private long _expires = long.MaxValue;

        public Task<TValue> Answer => _answer.Task;

        public bool LiveAt(long now) => Volatile.Read(ref _expires) > now;

        public void ExpiresAt(long ticks) => Volatile.Write(ref _expires, ticks);

        public void Complete(TValue value) => _answer.TrySetResult(value);

        public void Fail(Exception error) => _answer.TrySetException(error);
    }
}
