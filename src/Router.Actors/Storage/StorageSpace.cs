namespace Router.Actors.Storage;

/// <summary>
/// Free space in the folders mail is written to, checked before a transaction starts, as Postfix's
/// smtpd does (452 4.3.1 below 1.5 times its message size limit): a client told at MAIL keeps the
/// message and retries later, rather than sending all of it for a write that would fail. The file
/// systems are asked (statvfs) at most once a second and never on a session's path: a check that is
/// due starts one on the thread pool and answers from the last one, so a file system that hangs (a
/// shared Maildir on NFS) holds up one pool thread, not every MAIL; the first is made when the
/// router starts, so the first MAIL is answered from a real figure. Unknown counts as enough.
/// </summary>
public sealed class StorageSpace(IReadOnlyList<string> folders, long minimumFree)
{
    private const long RecheckMs = 1000;
    private long _available = minimumFree > 0 ? Measure(folders) : long.MaxValue;
    private long _nextCheck = Environment.TickCount64 + RecheckMs;
    private int _checking;

    public long MinimumFree => minimumFree;

    /// <summary>Whether every folder had <see cref="MinimumFree"/> plus <paramref name="declaredSize"/> bytes available at the last check.</summary>
    public bool HasRoomFor(long declaredSize, out long available)
    {
        available = long.MaxValue;
        if (minimumFree <= 0) return true;
        if (Environment.TickCount64 >= Volatile.Read(ref _nextCheck) && Interlocked.Exchange(ref _checking, 1) == 0) _ = Task.Run(Check);
        available = Volatile.Read(ref _available);
        return available >= minimumFree + declaredSize;
    }

    private void Check()
    {
        try
        {
            Volatile.Write(ref _available, Measure(folders));
        }
        finally
        {
            Volatile.Write(ref _nextCheck, Environment.TickCount64 + RecheckMs);
            Volatile.Write(ref _checking, 0);
        }
    }

    /// <summary>The least space available in <paramref name="folders"/> (statvfs).</summary>
    private static long Measure(IReadOnlyList<string> folders)
    {
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
        return least;
    }
}
