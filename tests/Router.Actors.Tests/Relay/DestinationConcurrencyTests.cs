using Router.Actors.Delivery;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// A destination's concurrency feedback: it starts at the initial limit; an attempt a server
/// answered raises it by 1/limit up to the maximum; one that reached no server halves it, once per
/// round of attempts, and holds it there for a while; only failures in a row worth a whole limit
/// take the destination for down (and start it again from the initial limit).
/// </summary>
public sealed class DestinationConcurrencyTests
{
    private static readonly TimeSpan Hold = TimeSpan.FromMinutes(1);
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(5, 20, 5)]
    [InlineData(5, 3, 3)]
    [InlineData(5, 1, 1)]
    public void It_starts_at_the_initial_limit_within_the_maximum(int initial, int max, int expected) =>
        Assert.Equal(expected, new DestinationConcurrency(initial, max, Hold).Limit);

    [Fact]
    public void Answered_attempts_raise_the_limit_by_one_per_limits_worth_up_to_the_maximum()
    {
        var concurrency = new DestinationConcurrency(5, 7, Hold);
        // 5 -> 5.2 -> 5.39 -> 5.58 -> 5.76 -> 5.93: five answers are not yet a whole step...
        for (var i = 0; i < 5; i++) concurrency.Answered(T0);
        Assert.Equal(5, concurrency.Limit);
        // ...the sixth is (6.10).
        concurrency.Answered(T0);
        Assert.Equal(6, concurrency.Limit);
        for (var i = 0; i < 100; i++) concurrency.Answered(T0);
        Assert.Equal(7, concurrency.Limit);
    }

    [Fact]
    public void A_failure_halves_the_limit_once_per_round_and_holds_it_without_taking_the_destination_for_down()
    {
        var concurrency = new DestinationConcurrency(8, 20, Hold);
        var round = concurrency.Round;
        Assert.False(concurrency.Failed(round, T0));
        Assert.Equal(4, concurrency.Limit);
        // Another attempt of the same round fails too: the decrease already answered it.
        Assert.False(concurrency.Failed(round, T0));
        Assert.Equal(4, concurrency.Limit);
        // Answers clear the failures, but the limit does not grow while it is held...
        for (var i = 0; i < 20; i++) concurrency.Answered(T0 + Hold / 2);
        Assert.Equal(4, concurrency.Limit);
        // ...and grows again after.
        for (var i = 0; i < 5; i++) concurrency.Answered(T0 + Hold);
        Assert.Equal(5, concurrency.Limit);
        // An attempt of the new round that fails halves it again, without a suspension (the answers cleared the count).
        Assert.False(concurrency.Failed(concurrency.Round, T0 + Hold));
        Assert.Equal(2, concurrency.Limit);
    }

    [Fact]
    public void Failures_in_a_row_worth_a_whole_limit_take_the_destination_for_down()
    {
        var concurrency = new DestinationConcurrency(5, 20, Hold);
        var round = concurrency.Round;
        // Five attempts of the first round fail: 1/5, then 1/2.5 each (the limit halved once): down at the third.
        Assert.False(concurrency.Failed(round, T0));
        Assert.False(concurrency.Failed(round, T0));
        Assert.True(concurrency.Failed(round, T0));
        Assert.Equal(5, concurrency.Limit); // from the initial limit again once it is back
        Assert.NotEqual(round, concurrency.Round);
        concurrency.Answered(T0); // not held after a suspension
        Assert.Equal(5, concurrency.Limit);

        // At a limit of 1 one failure is a whole cohort.
        var single = new DestinationConcurrency(5, 1, Hold);
        Assert.True(single.Failed(single.Round, T0));
    }
}
