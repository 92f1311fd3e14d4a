using System.Collections.Concurrent;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// 250 means durable: 20 clients stream messages, the router is SIGKILLed mid-stream and started
/// again on the same data-dir, and every message that was acknowledged is in new/ once, with its
/// exact bytes. The start finishes what the kill interrupted: tmp/ is empty again.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Clients = 20;
    private const int AcknowledgedBeforeKill = 200;

    [Fact]
    public async Task Every_acknowledged_message_survives_sigkill_and_restart()
    {
        using var router = await RouterProcess.StartAsync();
        var acknowledged = new ConcurrentDictionary<string, byte[]>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var killed = new CancellationTokenSource();

        async Task StreamAsync(int client)
        {
            try
            {
                await using var c = await router.ConnectEhloAsync();
                for (var n = 0; ; n++)
                {
                    var token = $"crash{client}x{n}x{Guid.NewGuid():N}";
                    var message = TestMessages.Create(token, body: $"client {client} message {n}\r\n");
                    await c.SendAsync("MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
                    await c.ExpectAsync("250");
                    await c.ExpectAsync("250");
                    await c.ExpectAsync("354");
                    await c.SendAsync(message.Concat(".\r\n"u8.ToArray()).ToArray());
                    await c.ExpectAsync("250 2.0.0");
                    acknowledged[$"{token}@remote.test"] = message;
                    if (acknowledged.Count >= AcknowledgedBeforeKill) enough.TrySetResult();
                }
            }
            catch (Exception) when (killed.IsCancellationRequested)
            {
                // The router died under us: whatever was not acknowledged may or may not be there.
            }
        }

        var streams = Enumerable.Range(0, Clients).Select(i => Task.Run(() => StreamAsync(i))).ToArray();
        var first = await Task.WhenAny(enough.Task, Task.WhenAll(streams)).WaitAsync(TimeSpan.FromSeconds(90));
        await first; // a client that failed before the kill fails the test here
        await killed.CancelAsync();
        router.Kill();
        await Task.WhenAll(streams).WaitAsync(TimeSpan.FromSeconds(60));
        var acked = acknowledged.ToDictionary();
        Assert.True(acked.Count >= AcknowledgedBeforeKill);

        await router.RestartAsync();

        var mailbox = router.Mailbox("alice@example.test");
        var stored = new Dictionary<string, byte[]>();
        foreach (var body in mailbox.NewMessages())
        {
            var id = TestMessages.MessageId(body) ?? throw new InvalidDataException("stored message without Message-ID");
            Assert.True(stored.TryAdd(id, body), $"{id} is in new/ twice");
        }
        var missing = acked.Keys.Where(id => !stored.ContainsKey(id)).ToArray();
        Assert.True(missing.Length == 0, $"{missing.Length} of {acked.Count} acknowledged messages lost, e.g. {missing.FirstOrDefault()}");
        foreach (var (id, message) in acked) Assert.Equal(message, stored[id]);

        Assert.Empty(mailbox.TmpFiles());

        // And the restarted router takes mail again.
        var token = TestMessages.NewToken();
        await using var after = await router.ConnectEhloAsync();
        await TestMessages.SendAsync(after, TestMessages.Create(token), "a@remote.test", ["alice@example.test"]);
        Assert.Single(mailbox.NewMessagesContaining(token));
    }
}
