using Router.Actors.Dnsbl;
using Router.Actors.Tests.Delivery;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>The DNSBL answers kept for their TTL, shared while in flight, and bounded in number.</summary>
public sealed class DnsblCacheTests
{
    private readonly ManualClock _clock = new();
    private int _lookups;

    private DnsblCache<string, string> Cache(int capacity = 100) => new(_clock, capacity, TimeSpan.FromHours(1));

    private Func<Task<(string, TimeSpan)>> Answer(string value, TimeSpan ttl) => () =>
    {
        Interlocked.Increment(ref _lookups);
        return Task.FromResult((value, ttl));
    };

    [Fact]
    public async Task An_answer_is_kept_for_its_TTL_and_asked_again_after()
    {
        var cache = Cache();
        Assert.Equal("listed", await cache.GetOrLookUp("a", Answer("listed", TimeSpan.FromSeconds(60))));

        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("listed", await cache.GetOrLookUp("a", Answer("changed", TimeSpan.FromSeconds(60))));
        Assert.Equal(1, _lookups);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("changed", await cache.GetOrLookUp("a", Answer("changed", TimeSpan.FromSeconds(60))));
        Assert.Equal(2, _lookups);
    }

    [Fact]
    public async Task An_answer_with_TTL_0_or_a_failure_is_not_kept()
    {
        var cache = Cache();
        await cache.GetOrLookUp("a", Answer("x", TimeSpan.Zero));
        await cache.GetOrLookUp("a", Answer("x", TimeSpan.Zero));

        Assert.Equal(2, _lookups);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task A_TTL_longer_than_the_ceiling_is_cut_to_it()
    {
        var cache = Cache();
        await cache.GetOrLookUp("a", Answer("x", TimeSpan.FromDays(7)));

        _clock.Advance(TimeSpan.FromHours(1));
        await cache.GetOrLookUp("a", Answer("x", TimeSpan.FromDays(7)));
        Assert.Equal(2, _lookups);
    }

    [Fact]
    public async Task Lookups_of_one_name_in_flight_at_once_are_one_lookup()
    {
        var cache = Cache();
        var gate = new TaskCompletionSource<(string, TimeSpan)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = cache.GetOrLookUp("a", () =>
        {
            Interlocked.Increment(ref _lookups);
            return gate.Task;
        });
        var second = cache.GetOrLookUp("a", Answer("other", TimeSpan.FromSeconds(60)));
        Assert.False(second.IsCompleted);

        gate.SetResult(("listed", TimeSpan.Zero));

        Assert.Equal("listed", await first);
        Assert.Equal("listed", await second);
        Assert.Equal(1, _lookups);
    }

    [Fact]
    public async Task A_lookup_that_throws_fails_its_waiters_and_is_not_kept()
    {
        var cache = Cache();
        var failed = cache.GetOrLookUp("a", () => Task.FromException<(string, TimeSpan)>(new InvalidOperationException("bug")));

        await Assert.ThrowsAsync<InvalidOperationException>(() => failed);
        Assert.Equal("x", await cache.GetOrLookUp("a", Answer("x", TimeSpan.FromSeconds(60))));
    }

    [Fact]
    public async Task The_cache_never_holds_much_more_than_its_capacity()
    {
        var cache = Cache(capacity: 50);
        for (var i = 0; i < 1000; i++) await cache.GetOrLookUp("client" + i, Answer("x", TimeSpan.FromMinutes(10)));

        Assert.InRange(cache.Count, 1, 51);
        // The newest answer is kept.
        await cache.GetOrLookUp("client999", Answer("x", TimeSpan.FromMinutes(10)));
        Assert.Equal(1000, _lookups);
    }
}
