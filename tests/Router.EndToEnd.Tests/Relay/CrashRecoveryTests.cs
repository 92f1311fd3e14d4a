using System.Net;
using Router.Actors.Tests.Delivery;
using Router.EndToEnd.Tests.Infrastructure;
using Router.LoadTest.Sink;
using Xunit.Abstractions;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// An acknowledged message survives SIGKILL (RFC 5321 s6.1: once 250 is sent, the message must
/// not be lost): the router is killed with a full queue, restarted on the same data, and every
/// message reaches the server once it is up. Losses fail the test; duplicates are counted and
/// reported (at-least-once is allowed only when the kill interrupts a delivery).
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Domain = "crash.relay.test";
    private const int Messages = 60;
    private static readonly IPAddress SinkAddress = IPAddress.Parse("127.0.78.1");

    /// <summary>Where the static route points; nothing listens there until a test starts the sink.</summary>
    private readonly IPEndPoint _sinkAt = new(SinkAddress, TestSinks.FreePortOnAll([SinkAddress]));

    private readonly DnsmasqFixture _dns = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private RouterProcess _router = null!;
    private SmtpSink? _sink;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts the router; its only outbound route is the static one to <see cref="_sinkAt"/>.</summary>
    private async Task StartRouterAsync(string delivery)
    {
        // No records: every lookup stays on loopback; the static route carries the test domain.
        var dns = await _dns.StartAsync([]);
        _router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router {
                  dns.servers = ["{{dns}}"]
                  relay.transport { "{{Domain}}" = "{{_sinkAt}}" }
                  delivery { connect-timeout = 2s, command-timeout = 20s, data-timeout = 20s, {{delivery}} }
                  queue { retry-schedule = [1s], retry-jitter = 0 }
                  # Bodies a kill left behind are released once older than this plus 5 s.
                  delivery-ack-timeout = 10s
                }
                """,
        });
    }

    public async Task DisposeAsync()
    {
        if (_router is not null && Environment.GetEnvironmentVariable("RELAY_TEST_LOGS") is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            await File.WriteAllTextAsync(Path.Combine(logs, $"crash-{Guid.NewGuid():N}.log"), _router.Output);
        }
        _router?.Dispose();
        if (_sink is not null) await _sink.DisposeAsync();
        await _dns.DisposeAsync();
    }

    [Fact]
    public async Task Full_queue_survives_SIGKILL_and_is_delivered_exactly_once_after_restart()
    {
        await StartRouterAsync("max-connections-per-destination = 4");
        var tokens = await QueueWhileTheServerIsDownAsync();

        _router.Kill();
        var restarted = DateTimeOffset.UtcNow;
        await _router.RestartAsync();
        output.WriteLine($"killed and restarted at {_clock.Elapsed.TotalSeconds:0.0}s");
        _sink = await TestSinks.StartAsync(_sinkAt);

        var copies = await AllDeliveredAsync(tokens, restarted);
        // Nothing was delivered before the kill, so nothing may be delivered twice.
        Assert.All(tokens, t => Assert.Equal(1, copies[t]));
    }

    [Fact]
    public async Task SIGKILL_in_the_middle_of_delivery_loses_nothing()
    {
        // One connection, 10 messages a second: the queue takes about 6 s to drain.
        await StartRouterAsync("max-connections-per-destination = 1, rate-per-domain = 10");
        var tokens = await QueueWhileTheServerIsDownAsync();

        _sink = await TestSinks.StartAsync(_sinkAt);
        await _sink.WaitUntilAsync(s => s.Messages >= Messages / 6, TimeSpan.FromSeconds(30));
        _router.Kill();
        var before = _sink.Stats.Messages;
        var restarted = DateTimeOffset.UtcNow;
        await _router.RestartAsync();
        output.WriteLine($"killed after {before} deliveries and restarted at {_clock.Elapsed.TotalSeconds:0.0}s");

        await AllDeliveredAsync(tokens, restarted);
        Assert.True(before < Messages, "the kill came after every message was delivered: it interrupted nothing");
    }

    [Fact]
    public async Task A_damaged_spool_record_loses_only_its_own_message_which_is_returned_to_its_sender()
    {
        await StartRouterAsync("max-connections-per-destination = 4");
        var tokens = await QueueWhileTheServerIsDownAsync();
        _router.Kill();

        // One flipped byte inside one message's record, in the middle of the segment.
        var segment = Directory.GetFiles(Path.Combine(_router.DataDir, "spool"), "*.seg").Order().First();
        var bytes = await File.ReadAllBytesAsync(segment);
        var (damaged, at) = tokens.Select(t => (Token: t, At: bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes("Subject: test " + t))))
            .Where(x => x.At > bytes.Length / 4 && x.At < bytes.Length * 3 / 4)
            .First();
        bytes[at] ^= 0x20;
        await File.WriteAllBytesAsync(segment, bytes);

        await _router.RestartAsync();
        _sink = await TestSinks.StartAsync(_sinkAt);
        await _router.WaitForOutputAsync("damaged bytes at offset", TimeSpan.FromSeconds(10));

        // Every other message arrives: the damage no longer takes the records behind it along.
        var others = tokens.Where(t => t != damaged).ToArray();
        await Eventually.TrueAsync(() => others.All(t => _sink.MessagesWith(t).Length > 0), TimeSpan.FromSeconds(60),
            () => $"{others.Count(t => _sink.MessagesWith(t).Length == 0)} intact messages never arrived; router output:\n{_router.Output}");
        // The damaged one is returned to its sender (RFC 5321 s6.1), not dropped without a word.
        var bounce = await Eventually.ValueAsync(
            () => DsnReport.FindAll(_router, "alice@example.test", damaged).SingleOrDefault(),
            TimeSpan.FromSeconds(60),
            () => $"a bounce for {damaged}; router output:\n{_router.Output}");
        var recipient = Assert.Single(bounce.PerRecipient);
        Assert.Equal("failed", recipient["Action"]);
        Assert.Equal("5.3.0", recipient["Status"]);
        Assert.Empty(_sink.MessagesWith(damaged));
    }

    /// <summary>Sends the messages while nothing listens at the route's address; each is acknowledged with 250 and spooled.</summary>
    private async Task<string[]> QueueWhileTheServerIsDownAsync()
    {
        var tokens = Enumerable.Range(0, Messages).Select(_ => TestMessages.NewToken()).ToArray();
        await Task.WhenAll(tokens.Chunk(Messages / 4).Select(async chunk =>
        {
            await using var c = await _router.ConnectEhloAsync();
            // The first message to a new domain waits for its queue's shard to be remembered: slow on a busy machine.
            c.Timeout = TimeSpan.FromSeconds(60);
            foreach (var token in chunk)
            {
                var rcpt = $"user-{token}@{Domain}";
                await TestMessages.SendAsync(c, TestMessages.Create(token, rcpt), "alice@example.test", [rcpt]);
            }
        }));
        Assert.Equal(Messages, SpoolCount());
        output.WriteLine($"{Messages} messages acknowledged and spooled at {_clock.Elapsed.TotalSeconds:0.0}s");
        return tokens;
    }

    /// <summary>Waits until every token reached the sink and the spool is empty; reports and returns copies per token.</summary>
    private async Task<Dictionary<string, int>> AllDeliveredAsync(string[] tokens, DateTimeOffset restarted)
    {
        var sink = _sink!;
        Dictionary<string, int> Copies() => tokens.ToDictionary(t => t, t => sink.MessagesWith(t).Length);
        await Eventually.TrueAsync(
            () => Copies().Values.All(n => n > 0),
            TimeSpan.FromSeconds(60),
            () => $"{Copies().Count(c => c.Value == 0)} of {Messages} messages never arrived; sink {sink.Stats}; router output:\n{_router.Output}");
        var delivered = DateTimeOffset.UtcNow;
        // A body whose last event was persisted just before the kill is released by the queue's
        // orphan sweep after its recovery (a reference the spool recovers at a start belongs to the
        // process that died: no session of it can still acknowledge the message).
        await Eventually.TrueAsync(() => SpoolCount() == 0, TimeSpan.FromSeconds(40), () => $"{SpoolCount()} bodies left in the spool");

        var copies = Copies();
        var duplicates = copies.Values.Sum(n => n - 1);
        output.WriteLine($"{Messages} messages: {copies.Count(c => c.Value > 0)} delivered, {copies.Count(c => c.Value == 0)} lost, {duplicates} duplicate copies; all delivered {(delivered - restarted).TotalSeconds:0.0}s after the restart began");
        Assert.DoesNotContain(copies, c => c.Value == 0);
        return copies;
    }

    private int SpoolCount() => DeferralTests.SpoolReferences(_router, Domain);
}
