using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// A router never relays to itself (RFC 5321 s5.1): it discards itself and every MX host of equal
/// or worse preference, and when that leaves nothing the mail bounces at once with 5.4.6 ("mail
/// for domain loops back to myself", as Postfix says) instead of circling until the hop limit.
/// "Itself" is one of its own listeners, or a server that answers EHLO with its own hostname.
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class MxLoopTests(RelayWorldFixture world)
{
    private const string Sender = "carol@example.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static async Task<DsnReport> BounceAsync(RouterProcess router, string recipient)
    {
        var token = TestMessages.NewToken();
        await using (var c = await router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, recipient), Sender, [recipient]);
        }
        return await Eventually.ValueAsync(
            () => DsnReport.FindAll(router, Sender, token).SingleOrDefault(d => d.PerRecipient.Any(r => r["Action"] == "failed")),
            Deadline + RelayWorldFixture.GiveUpAfter,
            () => $"a bounce for {token}; router output:\n{router.Output}");
    }

    [Fact]
    public async Task Mail_whose_best_mx_is_this_router_bounces_as_a_loop()
    {
        var dsn = await BounceAsync(world.Expiring, "user@loop.relay.test");

        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("5.4.6", recipient["Status"]);
        Assert.Contains("mail for loop.relay.test loops back to myself", dsn.Explanation, StringComparison.Ordinal);
        // Bounced by the first attempt: no hop through itself, so no hop-count refusal.
        Assert.DoesNotContain("Received headers", dsn.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backup_mx_that_is_this_router_is_never_used()
    {
        // mx1 (10) does not answer and mx2 (20) is the router itself: the message waits for mx1
        // and expires with mx1's error; it is never handed to mx2.
        var dsn = await BounceAsync(world.Expiring, "user@backup.relay.test");

        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("5.4.7", recipient["Status"]);
        Assert.Contains("mx1.backup.relay.test", dsn.Explanation, StringComparison.Ordinal);
        Assert.DoesNotContain("mx2.backup.relay.test", dsn.Explanation, StringComparison.Ordinal);
        Assert.False(recipient.Contains("Remote-MTA"), "no server ever answered for the recipient");
    }

    [Fact]
    public async Task A_server_that_answers_EHLO_with_our_hostname_is_a_loop()
    {
        var echo = world.Sink("echo");

        var dsn = await BounceAsync(world.Router, "user@echo.relay.test");

        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("5.4.6", recipient["Status"]);
        Assert.Contains("mail for echo.relay.test loops back to myself", dsn.Explanation, StringComparison.Ordinal);
        Assert.Equal(0, echo.Stats.Transactions);
    }

    [Fact]
    public async Task A_loop_found_by_EHLO_is_logged_with_the_host_it_reached()
    {
        string id;
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            id = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(TestMessages.NewToken(), "user@echo.relay.test"), Sender, ["user@echo.relay.test"]));
        }

        // A connection reached mx.echo.relay.test (relay=none means none was reached).
        await world.Router.WaitForOutputAsync($"{id}: to=<user@echo.relay.test> relay=mx.echo.relay.test status=Failed (554 5.4.6 mail for echo.relay.test loops back to myself)", Deadline);
    }
}
