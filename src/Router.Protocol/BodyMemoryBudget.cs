namespace Router.Protocol;

/// <summary>
/// How many bytes the message bodies being received may hold in memory, all sessions together
/// (router.limits.max-body-memory). A body buffer reserves what it grows by and gives it back when
/// disposed; a growth the budget cannot cover is refused, and the session answers 452 4.3.1 once
/// the client has sent the end of its data, instead of the process running out of memory when many
/// large messages arrive at once.
/// </summary>
public sealed class BodyMemoryBudget(long limit)
{
    private long _used;

    public long Limit { get; } = limit;

    /// <summary>Bytes reserved now.</summary>
    public long Used => Interlocked.Read(ref _used);

    public bool TryReserve(long bytes)
    {
        while (true)
        {
            var used = Interlocked.Read(ref _used);
            if (used + bytes > Limit) return false;
            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used) return true;
        }
    }

    /// <summary>Reserves even past the limit: the small first buffer of every body, which must exist.</summary>
    public void Reserve(long bytes) => Interlocked.Add(ref _used, bytes);

    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);
}
