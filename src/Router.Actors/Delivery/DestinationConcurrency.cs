namespace Router.Actors.Delivery;

/// <summary>
/// How many attempts a destination may have at once, learnt from how its attempts fare (the
/// concurrency feedback of Postfix's queue manager, with TCP's decrease). It starts at
/// <paramref name="initial"/>. An attempt in which a server answered raises it by 1/limit, up to
/// <paramref name="max"/>. One that reached no server (refused connections or greetings, as from a
/// server that allows a client only so many connections at once) halves it, down to 1, once per
/// round of attempts (the failures of attempts started before the decrease are already answered
/// by it), and it does not grow again for <paramref name="hold"/>: a server that turns away the
/// third connection is not tried with a third again at once. The destination counts as down only
/// when failures in a row add up to a whole cohort (each counts 1/limit; an answered attempt
/// clears them): at a limit of 1 that is one failure, so a refusal among attempts that succeed is
/// not taken for a dead destination. Not thread-safe: one queue actor owns it.
/// </summary>
internal sealed class DestinationConcurrency(int initial, int max, TimeSpan hold)
{
    private readonly double _initial = Math.Clamp(initial, 1, max);
    private double _window = Math.Clamp(initial, 1, max);
    private double _failedCohorts;
    private DateTimeOffset _holdUntil = DateTimeOffset.MinValue;

    /// <summary>Attempts allowed at once now (at least 1).</summary>
    public int Limit => (int)_window;

    /// <summary>The current round: an attempt notes it when it starts and gives it back with a failure.</summary>
    public int Round { get; private set; }

    /// <summary>An attempt in which a server answered (whatever it said to the recipients).</summary>
    public void Answered(DateTimeOffset now)
    {
        _failedCohorts = 0;
        if (now >= _holdUntil) _window = Math.Min(max, _window + 1 / _window);
    }

    /// <summary>
    /// An attempt started in <paramref name="round"/> reached no server. True when a whole cohort
    /// has failed in a row: the destination is down, and the limit starts again from the initial one.
    /// </summary>
    public bool Failed(int round, DateTimeOffset now)
    {
        _failedCohorts += 1 / _window;
        if (round == Round)
        {
            _window = Math.Max(1, _window / 2);
            Round++;
            _holdUntil = now + hold;
        }
        if (_failedCohorts < 1 - 1e-9) return false;
        _failedCohorts = 0;
        _window = _initial;
        _holdUntil = DateTimeOffset.MinValue;
        Round++;
        return true;
    }
}
