using System.Net;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Relay;
using Router.LoadTest.Sink;
using Xunit.Abstractions;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// Fencing (ShardLeases): two routers on one PostgreSQL that do not form one cluster, as when a
/// node starts with a wrong seed list. The second one starts the first one's remembered domain
/// queues too; without the shard leases both delivered the same queued mail (an audit saw every
/// message twice). Each router is a single-node cluster of its own on the shared database.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ShardLeaseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Domain = "fenced.test";
    private const int Queued = 5;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly PostgresFixture _postgres = new();
    private readonly int _mxPort = TestPorts.Next(); // nothing listens there until the sink starts
    private readonly List<RouterProcess> _routers = [];
    private SmtpSink? _sink;

    public Task InitializeAsync() => _postgres.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var router in _routers) router.Dispose();
        if (_sink is not null) await _sink.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    private async Task<(RouterProcess Router, HttpClient Admin)> StartRouterAsync()
    {
        var http = TestPorts.Next();
        var router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router {
                  http.endpoint = "127.0.0.1:{{http}}"
                  delivery-ack-timeout = 5s
                  queue {
                    store = "postgresql"
                    connection-string = "{{_postgres.ConnectionString}}"
                    retry-schedule = [1s]
                  }
                  relay.transport { "{{Domain}}" = "127.0.0.1:{{_mxPort}}" }
                }
                """,
        });
        _routers.Add(router);
        return (router, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") });
    }

    /// <summary>One message on a fresh connection; the reply to its final dot.</summary>
    private static async Task<string> SendAsync(RouterProcess router, string id)
    {
        await using var dialog = await router.ConnectEhloAsync();
        dialog.Timeout = TimeSpan.FromSeconds(30);
        await dialog.CommandAsync("MAIL FROM:<sender@remote.test>", "250");
        await dialog.CommandAsync($"RCPT TO:<z@{Domain}>", "250");
        await dialog.CommandAsync("DATA", "354");
        await dialog.SendAsync(TestMessages.Create(id, "z@" + Domain));
        await dialog.SendAsync(".\r\n");
        return (await dialog.ReadReplyAsync()).Lines[^1];
    }

    /// <summary>Sends until a 250 (a cold start's first journal writes can outlast the acknowledgement timeout).</summary>
    private static async Task SendUntilAcceptedAsync(RouterProcess router, string id)
    {
        string reply = "";
        await Eventually.UntilAsync(async () => (reply = await SendAsync(router, id)).StartsWith("250", StringComparison.Ordinal),
            Deadline, $"{id} accepted (last reply {reply})");
    }

    [Fact]
    public async Task A_second_cluster_on_the_same_database_does_not_run_the_first_ones_queues()
    {
        var token = TestMessages.NewToken();
        var (first, _) = await StartRouterAsync();
        for (var i = 0; i < Queued; i++) await SendUntilAcceptedAsync(first, $"{token}-queued-{i}");

        // The second router forms a cluster of its own on the same journal. Its shard for the
        // domain waits for the lease the first one holds: mail for the domain is refused (451 once
        // the session stops waiting), not queued in a second copy of the queue.
        var (second, secondAdmin) = await StartRouterAsync();
        var refused = await SendAsync(second, $"{token}-refused");
        var refusedAt = DateTime.UtcNow;
        Assert.True(refused.StartsWith("451", StringComparison.Ordinal), $"the second cluster answered {refused}\n{second.Output}");
        Assert.Contains($"is held by router@127.0.0.1:", second.Output, StringComparison.Ordinal);

        // The destination comes up: the first router delivers its queue, once.
        _sink = await TestSinks.StartAsync(new IPEndPoint(IPAddress.Loopback, _mxPort));
        await Eventually.TrueAsync(() => _sink.MessagesWith(token).Length >= Queued, Deadline,
            () => $"{_sink.MessagesWith(token).Length} of {Queued} delivered\n{first.Output}");

        // The first one stops (its shards give their leases back): the second takes the domain over
        // with the first one's journal, where everything is delivered, and takes new mail.
        // The refused message still waits in the second router's shard, and reaches its queue at the
        // take-over: it must not be queued then (its client was told 451 and sends it again). The
        // scenario needs the take-over after the session's deadline plus the clocks' margin (2 s).
        var pastDeadline = refusedAt + TimeSpan.FromSeconds(3) - DateTime.UtcNow;
        if (pastDeadline > TimeSpan.Zero) await Task.Delay(pastDeadline);
        Assert.Equal(0, await first.StopGracefullyAsync(Deadline));
        await SendUntilAcceptedAsync(second, $"{token}-after");
        await Eventually.TrueAsync(() => _sink.MessagesWith(token + "-after").Length >= 1, Deadline,
            () => $"the message after the take-over not delivered\n{second.Output}");
        await Eventually.UntilAsync(async () => (await AdminMetrics.ReadAsync(secondAdmin))["router_queue_messages"] == 0, Deadline,
            "the second router's queue empty");

        // Both queues are empty: nothing more can arrive. Each message once; the refused one never.
        var delivered = _sink.MessagesWith(token).Select(m => TestMessages.MessageId(m.Data)).ToArray();
        output.WriteLine(string.Join("\n", delivered));
        Assert.Equal(delivered.Distinct().Count(), delivered.Length);
        Assert.Equal(Queued + 1, delivered.Length);
        Assert.DoesNotContain($"{token}-refused@remote.test", delivered);
    }
}
