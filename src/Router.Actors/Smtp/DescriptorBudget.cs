using System.Runtime.InteropServices;

namespace Router.Actors.Smtp;

/// <summary>
/// How many SMTP connections the process's open-file limit (RLIMIT_NOFILE) leaves room for. Each
/// connection holds a descriptor, and so do the runtime (its assemblies), the stores, the Maildir
/// files being written and the delivery connections. When none is left, accepts fail (the listener
/// pauses), and worse, the .NET runtime cannot start a thread and aborts the process ("Out of
/// memory."). So the connections at once are capped at the limit, minus what is open at start,
/// minus a reserve of an eighth of the limit (at least 256) for the rest.
/// </summary>
internal static partial class DescriptorBudget
{
    private const int RlimitNofile = 7; // Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRlimit(int resource, out Rlimit limit);

    /// <summary>The cap, with the limit and the descriptors open now; null when the limit leaves room for <paramref name="configured"/> (0: no limit) or is unknown.</summary>
    public static (int Cap, long Limit, int InUse)? ConnectionCap(int configured)
    {
        if (!OperatingSystem.IsLinux() || GetRlimit(RlimitNofile, out var limit) != 0 || limit.Current > int.MaxValue) return null;
        var inUse = Directory.GetFiles("/proc/self/fd").Length;
        return Cap((long)limit.Current, inUse, configured) is { } cap ? (cap, (long)limit.Current, inUse) : null;
    }

    /// <summary>The cap for a limit and what is open, or null when <paramref name="configured"/> (0: no limit) fits.</summary>
    public static int? Cap(long limit, int inUse, int configured)
    {
        var room = limit - inUse - Math.Max(256, limit / 8);
        if (configured > 0 && configured <= room) return null;
        return (int)Math.Clamp(room, 1, configured > 0 ? configured : int.MaxValue);
    }
}
