namespace Router.Protocol;

/// <summary>
/// Short unique message identifiers (like Postfix queue ids): 40 bits of time in milliseconds, a
/// process-random 24-bit prefix and a counter, in base 32. Unique across restarts and processes.
/// </summary>
public static class QueueId
{
    private const string Alphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZa";
    private static readonly long ProcessSalt = Random.Shared.NextInt64(1 << 24);
    private static long _counter;

    public static string Next()
    {
        var time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() & ((1L << 40) - 1);
        var n = Interlocked.Increment(ref _counter) & 0xFFFFF;
        Span<char> chars = stackalloc char[18];
        Encode(time, chars[..8]);
        Encode((ProcessSalt << 20) | n, chars[8..]);
        return new string(chars);
    }

    private static void Encode(long value, Span<char> into)
    {
        for (var i = into.Length - 1; i >= 0; i--)
        {
            into[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
    }
}
