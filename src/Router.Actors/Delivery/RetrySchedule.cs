namespace Router.Actors.Delivery;

/// <summary>
/// When to try a deferred message again: the configured backoff steps (the last repeats), each
/// stretched or shrunk by a random jitter so that retries of many messages spread out. Pure.
/// </summary>
public sealed class RetrySchedule(IReadOnlyList<TimeSpan> steps, double jitter)
{
    /// <param name="attempts">Attempts made so far (1 after the first failure).</param>
    public DateTimeOffset Next(DateTimeOffset now, int attempts, Random random)
    {
        var step = steps[Math.Clamp(attempts - 1, 0, steps.Count - 1)];
        var factor = 1 + jitter * (2 * random.NextDouble() - 1);
        return now + step * factor;
    }
}
