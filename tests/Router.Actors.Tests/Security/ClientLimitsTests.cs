using System.Net;
using Router.Actors.Configuration;
using Router.Actors.Smtp;

namespace Router.Actors.Tests.Security;

/// <summary>The anvil-like counters: per-client concurrency, sliding one-minute rates, AUTH failures, the total.</summary>
public sealed class ClientLimitsTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.1");
    private readonly ManualTime _time = new();

    private ClientLimits Limits(Func<RouterSettings, RouterSettings> change) => new(TestSettings.Create(change), _time);

    [Fact]
    public void Concurrent_connections_per_client_are_capped_and_freed_on_close()
    {
        var limits = Limits(s => s with { MaxConnectionsPerClient = 2, ConnectionRatePerMinute = 0 });
        Assert.Null(limits.TryOpen(Client, exempt: false));
        Assert.Null(limits.TryOpen(Client, exempt: false));
        Assert.Equal(421, limits.TryOpen(Client, exempt: false)!.Code);
        Assert.Null(limits.TryOpen(IPAddress.Parse("192.0.2.2"), exempt: false));
        limits.Close(Client);
        Assert.Null(limits.TryOpen(Client, exempt: false));
    }

    [Fact]
    public void A_total_of_0_is_no_limit_as_for_the_others()
    {
        var limits = Limits(s => s with { MaxConnections = 0, MaxConnectionsPerClient = 0, ConnectionRatePerMinute = 0 });
        for (var i = 0; i < 100; i++) Assert.Null(limits.TryOpen(Client, exempt: false));
        Assert.Null(limits.TryOpen(IPAddress.Parse("127.0.0.1"), exempt: true));
    }

    [Fact]
    public void IPv4_mapped_IPv6_counts_as_the_same_client()
    {
        var limits = Limits(s => s with { MaxConnectionsPerClient = 1 });
        Assert.Null(limits.TryOpen(Client, exempt: false));
        Assert.NotNull(limits.TryOpen(Client.MapToIPv6(), exempt: false));
    }

    [Fact]
    public void Connection_rate_is_a_sliding_minute()
    {
        var limits = Limits(s => s with { ConnectionRatePerMinute = 3, MaxConnectionsPerClient = 0 });
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(limits.TryOpen(Client, exempt: false));
            limits.Close(Client);
            _time.Advance(TimeSpan.FromSeconds(10));
        }
        Assert.Equal("4.7.0", limits.TryOpen(Client, exempt: false)!.Enhanced);
        _time.Advance(TimeSpan.FromSeconds(31)); // the first connection is now a minute old
        Assert.Null(limits.TryOpen(Client, exempt: false));
    }

    [Fact]
    public void Message_rate_answers_450_4_7_1()
    {
        var limits = Limits(s => s with { MessageRatePerMinute = 2 });
        Assert.Null(limits.TryStartMessage(Client, exempt: false));
        Assert.Null(limits.TryStartMessage(Client, exempt: false));
        var refusal = limits.TryStartMessage(Client, exempt: false)!;
        Assert.Equal((450, "4.7.1"), (refusal.Code, refusal.Enhanced));
        Assert.Null(limits.TryStartMessage(Client, exempt: true));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(limits.TryStartMessage(Client, exempt: false));
    }

    [Fact]
    public void Exempt_clients_skip_per_client_limits_but_not_the_total()
    {
        var limits = Limits(s => s with { MaxConnections = 3, MaxConnectionsPerClient = 1, ConnectionRatePerMinute = 1 });
        Assert.Null(limits.TryOpen(Client, exempt: true));
        Assert.Null(limits.TryOpen(Client, exempt: true));
        Assert.Null(limits.TryOpen(Client, exempt: true));
        Assert.Equal("Too many connections: try again later", limits.TryOpen(Client, exempt: true)!.Text);
        Assert.Equal(3, limits.OpenConnections);
    }

    [Fact]
    public void Auth_failures_count_per_user_and_per_address_within_the_window()
    {
        var limits = Limits(s => s with { Security = new SecuritySettings { AuthFailureWindow = TimeSpan.FromMinutes(10) } });
        Assert.Equal(1, limits.RecordAuthFailure(Client, "alice"));
        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(2, limits.RecordAuthFailure(Client, "Alice"));
        Assert.Equal(1, limits.RecordAuthFailure(Client, "bob"));
        Assert.Equal(3, limits.AuthFailures(Client));
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, limits.AuthFailures(Client, "alice"));
        Assert.Equal(1, limits.AuthFailures(Client, "bob"));
        Assert.Equal(2, limits.AuthFailures(Client));
        Assert.Equal(0, limits.AuthFailures(IPAddress.Parse("192.0.2.9"), "alice"));

        // A success forgets the user's failures, not the address's.
        limits.ClearAuthFailures(Client, "ALICE");
        Assert.Equal(0, limits.AuthFailures(Client, "alice"));
        Assert.Equal(2, limits.AuthFailures(Client));
    }

    [Fact]
    public void Failure_delay_starts_after_the_threshold_and_is_capped()
    {
        var settings = new SecuritySettings { AuthFailureDelayAfter = 3, AuthFailureDelay = TimeSpan.FromSeconds(1) };
        Assert.Equal(TimeSpan.Zero, settings.DelayAfterFailures(3));
        Assert.Equal(TimeSpan.FromSeconds(1), settings.DelayAfterFailures(4));
        Assert.Equal(TimeSpan.FromSeconds(2), settings.DelayAfterFailures(5));
        Assert.Equal(TimeSpan.FromSeconds(10), settings.DelayAfterFailures(100));
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
