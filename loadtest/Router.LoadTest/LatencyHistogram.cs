namespace Router.LoadTest;

/// <summary>
/// A lock-free log-linear latency histogram in microseconds, in the manner of HdrHistogram:
/// exact below 1 ms, then 512 sub-buckets per power of two (under 0.2% error). Recording is
/// one Interlocked increment, so every connection records into one shared instance.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBits = 9;
    private const int Half = 1 << SubBits;
    private const int Linear = Half * 2;
    private const int Exponents = 40;

    private readonly long[] _counts = new long[Linear + Exponents * Half];
    private long _total;
    private long _max;

    public long Count => Volatile.Read(ref _total);

    public void Record(long micros)
    {
        if (micros < 0) micros = 0;
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _total);
        var max = Volatile.Read(ref _max);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, micros, max);
            if (seen == max) break;
            max = seen;
        }
    }

    public double MaxMilliseconds => Volatile.Read(ref _max) / 1000.0;

    /// <summary>The latency under which <paramref name="fraction"/> of the samples fall, in milliseconds; 0 with no samples.</summary>
    public double PercentileMilliseconds(double fraction)
    {
        var total = Count;
        if (total == 0) return 0;
        var rank = Math.Max(1, (long)Math.Ceiling(fraction * total));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank) return Math.Min(Midpoint(i), Volatile.Read(ref _max)) / 1000.0;
        }
        return MaxMilliseconds;
    }

    private static int Index(long v)
    {
        if (v < Linear) return (int)v;
        var e = Math.Min(63 - (int)long.LeadingZeroCount(v) - SubBits, Exponents);
        var sub = (int)(v >> e) - Half;
        return Linear + (e - 1) * Half + Math.Min(sub, Half - 1);
    }

    private static double Midpoint(int index)
    {
        if (index < Linear) return index;
        var e = (index - Linear) / Half + 1;
        var sub = (index - Linear) % Half + Half;
        return ((long)sub << e) + ((1L << e) - 1) / 2.0;
    }
}
