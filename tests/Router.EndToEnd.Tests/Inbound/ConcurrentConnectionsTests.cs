using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>500 clients at once, 5 pipelined messages each: 2,500 files, every Message-ID exactly once.</summary>
public sealed class ConcurrentConnectionsTests
{
    private const int Connections = 500;
    private const int MessagesPerConnection = 5;
    private static readonly string[] Mailboxes = ["demo@example.test", "alice@example.test", "bob@example.test", "carol@example.test"];

    [Fact]
    public async Task Five_hundred_connections_of_five_messages_deliver_each_message_exactly_once()
    {
        using var router = await RouterProcess.StartAsync(new RouterOptions { MaxConnections = 2 * Connections });
        var run = Guid.NewGuid().ToString("N")[..8];
        var sent = new List<string>();
        for (var i = 0; i < Connections; i++)
        {
            for (var n = 0; n < MessagesPerConnection; n++) sent.Add($"load{run}c{i}m{n}@remote.test");
        }

        // All connections are open (and greeted) before any message goes: they really are concurrent.
        var dialogs = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => router.ConnectEhloAsync()));
        try
        {
            await Task.WhenAll(dialogs.Select((c, i) => Task.Run(() => SendAsync(c, i, run))));
        }
        finally
        {
            foreach (var dialog in dialogs) dialog.Dispose();
        }

        var ids = Mailboxes
            .SelectMany(m => router.Mailbox(m).NewMessages())
            .Select(m => TestMessages.MessageId(m) ?? "(none)")
            .ToList();
        Assert.Equal(Connections * MessagesPerConnection, ids.Count);
        var duplicates = ids.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        Assert.True(duplicates.Length == 0, $"delivered more than once: {string.Join(", ", duplicates.Take(5))}");
        Assert.Equal(sent.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }

    private static async Task SendAsync(SmtpDialog c, int connection, string run)
    {
        var mailbox = Mailboxes[connection % Mailboxes.Length];
        for (var n = 0; n < MessagesPerConnection; n++)
        {
            var message = TestMessages.Create($"load{run}c{connection}m{n}", to: mailbox);
            await c.SendAsync($"MAIL FROM:<a@remote.test>\r\nRCPT TO:<{mailbox}>\r\nDATA\r\n");
            await c.ExpectAsync("250");
            await c.ExpectAsync("250");
            await c.ExpectAsync("354");
            await c.SendAsync(message.Concat(".\r\n"u8.ToArray()).ToArray());
            await c.ExpectAsync("250 2.0.0");
        }
        await c.CommandAsync("QUIT", "221");
    }
}
