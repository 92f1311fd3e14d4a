namespace Router.LoadTest.Sink;

/// <summary>
/// Decides which recipients the sink fails, so that the configured fractions hold exactly over
/// every full period and within one recipient over any prefix. Smooth weighted round-robin
/// (as in nginx) over three outcomes with weights in parts per million, reduced by their GCD.
/// </summary>
internal sealed class FailureSchedule
{
    private readonly long[] _weights;
    private readonly long[] _current = new long[3];
    private readonly long _total;
    private readonly Lock _lock = new();

    public FailureSchedule(double tempFail, double permFail)
    {
        if (tempFail < 0 || permFail < 0 || tempFail + permFail > 1)
            throw new ArgumentException("Failure fractions must be non-negative and add up to at most 1.");
        var temp = (long)Math.Round(tempFail * 1_000_000);
        var perm = (long)Math.Round(permFail * 1_000_000);
        var accept = 1_000_000 - temp - perm;
        var gcd = Gcd(Gcd(accept, temp), perm);
        _weights = [accept / gcd, temp / gcd, perm / gcd];
        _total = _weights.Sum();
    }

    public bool FailsAny => _weights[1] + _weights[2] > 0;

    /// <summary>The code for the next recipient: 250, 451 or 550.</summary>
    public int Next()
    {
        if (!FailsAny) return 250;
        lock (_lock)
        {
            var best = 0;
            for (var i = 0; i < 3; i++)
            {
                _current[i] += _weights[i];
                if (_current[i] > _current[best]) best = i;
            }
            _current[best] -= _total;
            return best switch { 0 => 250, 1 => 451, _ => 550 };
        }
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
