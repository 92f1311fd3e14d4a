using Router.Actors.Delivery;

namespace Router.Actors.Tests.Relay;

/// <summary>The backoff steps (the last one repeats), each stretched or shrunk by at most the jitter.</summary>
public sealed class RetryScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 15, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan[] Steps = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15)];

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(2, 5)]
    [InlineData(3, 15)]
    [InlineData(4, 15)]
    [InlineData(100, 15)]
    public void Without_jitter_the_wait_is_the_step_for_the_attempt_count(int attempts, int minutes)
    {
        var schedule = new RetrySchedule(Steps, 0);

        Assert.Equal(Now + TimeSpan.FromMinutes(minutes), schedule.Next(Now, attempts, new Random(1)));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 5)]
    [InlineData(7, 15)]
    public void With_jitter_the_wait_stays_within_the_bounds_and_spreads_across_them(int attempts, int minutes)
    {
        const double jitter = 0.1;
        var schedule = new RetrySchedule(Steps, jitter);
        var step = TimeSpan.FromMinutes(minutes);
        var random = new Random(42);

        var waits = Enumerable.Range(0, 2000).Select(_ => schedule.Next(Now, attempts, random) - Now).ToArray();

        Assert.All(waits, w => Assert.InRange(w, step * (1 - jitter), step * (1 + jitter)));
        // Spread: both ends of the range are used, not one fixed offset.
        Assert.True(waits.Min() < step * (1 - jitter * 0.9), $"shortest wait {waits.Min()}");
        Assert.True(waits.Max() > step * (1 + jitter * 0.9), $"longest wait {waits.Max()}");
    }
}
