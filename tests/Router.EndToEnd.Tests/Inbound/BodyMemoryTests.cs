using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// The bodies being received share one memory budget (router.limits.max-body-memory, here 1 MiB
/// with messages of up to 10 MiB allowed): a message that would take more is read to its end and
/// refused with 452 4.3.1, the session goes on, and what a session holds counts for every other
/// one until its message is on disk. The admin endpoint's router_body_memory_bytes shows it.
/// </summary>
public sealed class BodyMemoryTests : IAsyncLifetime
{
    private const int KiB = 1024;
    private readonly int _adminPort = TestPorts.Next();
    private RouterProcess? _router;
    private HttpClient? _admin;

    public async Task InitializeAsync()
    {
        _router = await RouterProcess.StartAsync(new RouterOptions
        {
            MaxMessageSize = "10MiB",
            ExtraHocon = $"router.limits.max-body-memory = 1MiB\nrouter.http.endpoint = \"127.0.0.1:{_adminPort}\"",
        });
        _admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_adminPort}") };
    }

    public Task DisposeAsync()
    {
        _admin?.Dispose();
        _router?.Dispose();
        return Task.CompletedTask;
    }

    private static byte[] Message(string token, int size)
    {
        var line = new string('m', 76) + "\r\n";
        return TestMessages.Create(token, body: string.Concat(Enumerable.Repeat(line, size / line.Length)));
    }

    private async Task<long> BodyMemoryAsync() => (await AdminMetrics.ReadAsync(_admin!))["router_body_memory_bytes"];

    private IReadOnlyList<byte[]> InboxContaining(string token) => _router!.Mailbox("alice@example.test").NewMessagesContaining(token);

    [Fact]
    public async Task A_message_the_budget_cannot_hold_gets_452_after_its_data_and_the_session_goes_on()
    {
        await using var c = await _router!.ConnectEhloAsync();
        var big = TestMessages.NewToken();
        var reply = await TestMessages.SendAsync(c, Message(big, 2048 * KiB), "a@remote.test", ["alice@example.test"], "452");
        Assert.StartsWith("452 4.3.1", reply.Lines[^1], StringComparison.Ordinal);

        var small = TestMessages.NewToken();
        await TestMessages.SendAsync(c, Message(small, 100 * KiB), "a@remote.test", ["alice@example.test"]);
        Assert.Single(InboxContaining(small));
        Assert.Empty(InboxContaining(big));
        await Eventually.UntilAsync(async () => await BodyMemoryAsync() == 0, TimeSpan.FromSeconds(10), "every body's memory given back");
    }

    [Fact]
    public async Task What_one_session_holds_counts_for_the_others_until_its_message_is_on_disk()
    {
        await using var first = await _router!.ConnectEhloAsync();
        await using var second = await _router.ConnectEhloAsync();
        var held = TestMessages.NewToken();
        await first.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await first.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await first.CommandAsync("DATA", "354");
        await first.SendAsync(Message(held, 700 * KiB)); // no end of data yet: the router holds it
        await Eventually.UntilAsync(async () => await BodyMemoryAsync() >= 700 * KiB, TimeSpan.FromSeconds(10), "the first body held in memory");

        var refused = TestMessages.NewToken();
        var reply = await TestMessages.SendAsync(second, Message(refused, 700 * KiB), "b@remote.test", ["alice@example.test"], "452");
        Assert.StartsWith("452 4.3.1", reply.Lines[^1], StringComparison.Ordinal);

        await first.SendAsync(".\r\n");
        await first.ExpectAsync("250");
        await Eventually.UntilAsync(async () => await BodyMemoryAsync() == 0, TimeSpan.FromSeconds(10), "the first body's memory given back");
        await TestMessages.SendAsync(second, Message(refused, 700 * KiB), "b@remote.test", ["alice@example.test"]);

        Assert.Single(InboxContaining(held));
        Assert.Single(InboxContaining(refused));
    }
}
