using System.Net;
using Router.Actors.Tests.Delivery;
using Router.EndToEnd.Tests.Infrastructure;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Outbound concurrency on a real router against the load generator's sink: the node's delivery
/// slots (router.delivery.max-connections) bound its deliveries in progress over all destinations,
/// and a destination that turns away connections beyond a few (421 at the greeting) defers only
/// the messages it turned away, gets fewer connections at once, and is not suspended.
/// </summary>
public sealed class DeliveryConcurrencyTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly DnsmasqFixture _dns = new();
    private readonly List<IAsyncDisposable> _sinks = [];
    private RouterProcess? _router;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _router?.Dispose();
        foreach (var sink in _sinks) await sink.DisposeAsync();
        await _dns.DisposeAsync();
    }

    [Fact]
    public async Task The_nodes_deliveries_in_progress_over_all_destinations_stay_within_its_slots()
    {
        // Each delivery holds its transaction open for 300 ms at the sink: three destinations with
        // four messages each would have up to twelve at once (five per destination to begin with).
        var sink = await StartSinkAsync(new SinkOptions { DataReplyDelay = TimeSpan.FromMilliseconds(300) });
        string[] domains = ["a.slots.test", "b.slots.test", "c.slots.test"];
        await StartRouterAsync(domains, sink.EndPoint, "max-connections = 2");

        await SendAsync(Enumerable.Range(0, 12).Select(i => $"user{i}@{domains[i % 3]}"));

        var stats = await sink.WaitUntilAsync(s => s.Messages >= 12, Deadline);
        Assert.Equal(12, stats.Messages);
        Assert.Equal(2, stats.PeakMessagesInFlight);
    }

    [Fact]
    public async Task A_destination_that_turns_away_connections_beyond_two_is_not_suspended()
    {
        // Transactions held open 300 ms: more than two attempts are in flight at once early on.
        var sink = await StartSinkAsync(new SinkOptions { MaxConnections = 2, DataReplyDelay = TimeSpan.FromMilliseconds(300) });
        const string domain = "busy.provider.test";
        await StartRouterAsync([domain], sink.EndPoint, "");
        const int messages = 20;

        await SendAsync(Enumerable.Range(0, messages).Select(i => $"user{i}@{domain}"));

        // Each message is delivered or, turned away at the greeting, deferred to its retry (10 min).
        var router = _router!;
        await Eventually.UntilAsync(
            () => Task.FromResult(sink.Stats.Messages + Deferred(router) == messages),
            Deadline, "every message delivered or deferred once");
        var stats = sink.Stats;
        Assert.Equal(stats.ConnectionsTurnedAway, Deferred(router));
        Assert.Contains("Too many connections", router.Output);
        // The first refusal halves the destination's limit and holds it: only the first rounds'
        // extra connections are turned away. The destination is never taken for down.
        Assert.InRange(stats.ConnectionsTurnedAway, 1, messages / 3);
        Assert.DoesNotContain("temporarily suspended", router.Output);
    }

    private static int Deferred(RouterProcess router) => router.Output.Split('\n').Count(l => l.Contains("status=Deferred", StringComparison.Ordinal));

    private async Task<SmtpSink> StartSinkAsync(SinkOptions options)
    {
        var sink = new SmtpSink(options with { Listen = new IPEndPoint(IPAddress.Loopback, 0) });
        await sink.StartAsync();
        _sinks.Add(sink);
        return sink;
    }

    /// <summary>A router whose only outbound routes are static ones from <paramref name="domains"/> to <paramref name="sink"/>.</summary>
    private async Task StartRouterAsync(string[] domains, IPEndPoint sink, string delivery)
    {
        var dns = await _dns.StartAsync([]);
        var routes = string.Join('\n', domains.Select(d => $"\"{d}\" = \"{sink}\""));
        _router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router {
                  dns.servers = ["{{dns}}"]
                  relay.transport {
                {{routes}}
                  }
                  delivery { connect-timeout = 10s, {{delivery}} }
                  queue { retry-schedule = [10m], retry-jitter = 0 }
                }
                """,
        });
    }

    private async Task SendAsync(IEnumerable<string> recipients)
    {
        await using var c = await _router!.ConnectEhloAsync();
        foreach (var rcpt in recipients)
        {
            await TestMessages.SendAsync(c, TestMessages.Create(TestMessages.NewToken(), rcpt), "alice@example.test", [rcpt]);
        }
    }
}
