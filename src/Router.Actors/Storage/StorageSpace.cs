namespace Router.Actors.Storage;

/// <summary>
/// Free space in the folders mail is written to, checked before a transaction starts, as Postfix's
/// smtpd does (452 4.3.1 below 1.5 times its message size limit): a client told at MAIL keeps the
/// message and retries later, rather than sending all of it for a write that would fail. The
/// file systems are asked (statvfs) at most once a second.
/// </summary>
public sealed class StorageSpace(IReadOnlyList<string> folders, long minimumFree)
{
    private const long RecheckMs = 1000;
    private readonly object _gate = new();
    private long _nextCheck;
    private long _available = long.MaxValue;

    public long MinimumFree => minimumFree;

    /// <summary>Whether every folder has <see cref="MinimumFree"/> plus <paramref name="declaredSize"/> bytes available.</summary>
    public bool HasRoomFor(long declaredSize, out long available)
    {
        available = long.MaxValue;
        if (minimumFree <= 0) return true;
        available = Available();
        return available >= minimumFree + declaredSize;
    }

    private long Available()
    {
        lock (_gate)
        {
            var now = Environment.TickCount64;
            if (now < _nextCheck) return _available;
            var least = long.MaxValue;
            foreach (var folder in folders)
            {
                try
                {
                    least = Math.Min(least, new DriveInfo(folder).AvailableFreeSpace);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    // A folder that cannot be asked does not block mail: its writes report their own errors.
                }
            }
            _nextCheck = now + RecheckMs;
            _available = least;
            return least;
        }
    }
}
