using System.Net;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// Per-client limits (Postfix anvil style): concurrent connections, connections per minute and
/// messages per minute per client address, each tried from a loopback address of its own; the
/// trusted network is exempt.
/// </summary>
public sealed class ClientLimitTests(ClientLimitTests.Fixture fixture) : IClassFixture<ClientLimitTests.Fixture>
{
    private readonly RouterProcess _router = fixture.Router;

    public sealed class Fixture : RouterFixture
    {
        protected override RouterOptions Options => new()
        {
            TrustedNetworks = ["127.0.0.1/32"],
            ExtraHocon = """
                router.limits { max-connections-per-client = 2, connection-rate-per-minute = 4, message-rate-per-minute = 2 }
                """,
        };
    }

    private async Task<SmtpDialog> GreetedAsync(IPAddress from)
    {
        var dialog = await SmtpDialog.ConnectAsync(_router.Port, from);
        await dialog.ExpectAsync("220");
        return dialog;
    }

    [Fact]
    public async Task Third_concurrent_connection_from_one_client_gets_421_4_7_0()
    {
        var from = IPAddress.Parse("127.0.0.21");
        var first = await GreetedAsync(from);
        await using var second = await GreetedAsync(from);
        await using (var third = await SmtpDialog.ConnectAsync(_router.Port, from))
        {
            await third.ExpectAsync("421 4.7.0");
            await third.ExpectClosedAsync();
        }

        // Another client is not affected.
        await using (var other = await GreetedAsync(IPAddress.Parse("127.0.0.24")))
        {
            await other.CommandAsync("QUIT", "221");
        }

        // A freed slot is usable again.
        await first.CommandAsync("QUIT", "221");
        await first.DisposeAsync();
        await Eventually.UntilAsync(async () =>
        {
            await using var again = await SmtpDialog.ConnectAsync(_router.Port, from);
            var reply = await again.ReadReplyAsync();
            return reply.Code == 220;
        }, TimeSpan.FromSeconds(10), "the freed connection slot");
    }

    [Fact]
    public async Task Fifth_connection_in_a_minute_from_one_client_gets_421_4_7_0()
    {
        var from = IPAddress.Parse("127.0.0.22");
        for (var i = 0; i < 4; i++)
        {
            await using var dialog = await GreetedAsync(from);
            await dialog.CommandAsync("QUIT", "221");
        }
        await using var refused = await SmtpDialog.ConnectAsync(_router.Port, from);
        var reply = await refused.ExpectAsync("421 4.7.0");
        Assert.Contains("minute", reply.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Third_message_in_a_minute_from_one_client_gets_450_4_7_1()
    {
        await using var dialog = await GreetedAsync(IPAddress.Parse("127.0.0.23"));
        await dialog.CommandAsync("EHLO client.test", "250");
        for (var i = 0; i < 2; i++)
        {
            await dialog.CommandAsync("MAIL FROM:<someone@remote.test>", "250");
            await dialog.CommandAsync("RSET", "250");
        }
        await dialog.CommandAsync("MAIL FROM:<someone@remote.test>", "450 4.7.1");
        await dialog.CommandAsync("RCPT TO:<alice@example.test>", "503");
    }

    [Fact]
    public async Task Trusted_network_is_exempt_from_the_per_client_limits()
    {
        var dialogs = new List<SmtpDialog>();
        try
        {
            for (var i = 0; i < 6; i++) dialogs.Add(await GreetedAsync(IPAddress.Loopback));
            await dialogs[^1].CommandAsync("EHLO client.test", "250");
            for (var i = 0; i < 3; i++)
            {
                await dialogs[^1].CommandAsync("MAIL FROM:<someone@remote.test>", "250");
                await dialogs[^1].CommandAsync("RSET", "250");
            }
        }
        finally
        {
            foreach (var d in dialogs) await d.DisposeAsync();
        }
    }
}
