using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Where relayed mail goes (RFC 5321 s5.1, RFC 7505): MX hosts in preference order from a real
/// dnsmasq, the next MX when the best does not answer, the domain's own A record when it has no
/// MX, immediate bounces for a null MX or a domain that does not exist, and static routes first.
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class MxRoutingTests(RelayWorldFixture world)
{
    private const string Sender = "alice@example.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private async Task<string> RelayAsync(string recipient)
    {
        var token = TestMessages.NewToken();
        await using var c = await world.Router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, TestMessages.Create(token, recipient), Sender, [recipient]);
        return token;
    }

    private async Task DeliveredAtAsync(string sink, string token)
    {
        var at = world.Sink(sink);
        await Eventually.TrueAsync(() => at.MessagesWith(token).Length > 0, Deadline, () => $"{sink} sink stats {at.Stats}");
        Assert.Single(at.MessagesWith(token));
    }

    [Fact]
    public async Task Best_preference_MX_gets_the_mail()
    {
        var tokens = new List<string>();
        for (var i = 0; i < 3; i++) tokens.Add(await RelayAsync($"user{i}@pref.relay.test"));

        foreach (var token in tokens) await DeliveredAtAsync("pref-best", token);
        Assert.Equal(0, world.Sink("pref-second").Stats.Connections);
    }

    [Fact]
    public async Task Next_MX_gets_the_mail_when_the_best_does_not_answer()
    {
        var token = await RelayAsync("user@fallback.relay.test");

        await DeliveredAtAsync("fallback-second", token);
    }

    [Fact]
    public async Task A_better_MX_that_refuses_the_connection_is_logged_when_the_next_takes_the_mail()
    {
        var token = TestMessages.NewToken();
        string id;
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            id = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(token, "user@fallback.relay.test"), Sender, ["user@fallback.relay.test"]));
        }

        // Postfix's words for the host that failed, then the status line of the one that took it.
        await world.Router.WaitForOutputAsync($"{id}: connect to mx1.fallback.relay.test[{RelayWorldFixture.Address(3)}]:{world.MxPort}: Connection refused", Deadline);
        await world.Router.WaitForOutputAsync($"{id}: to=<user@fallback.relay.test> relay=mx2.fallback.relay.test status=Sent (250 ", Deadline);
    }

    [Fact]
    public async Task Domain_without_MX_is_delivered_to_its_A_record()
    {
        var token = await RelayAsync("user@implicit.relay.test");

        await DeliveredAtAsync("implicit", token);
    }

    [Fact]
    public async Task Static_route_overrides_the_MX_records()
    {
        var token = await RelayAsync("user@static.relay.test");

        await DeliveredAtAsync("static-route", token);
        Assert.Equal(0, world.Sink("static-dns").Stats.Connections);
    }

    [Fact]
    public async Task Null_MX_bounces_at_once_with_5_1_10()
    {
        var token = await RelayAsync("user@nullmx.relay.test");

        var dsn = await BounceAsync(token);
        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("rfc822;user@nullmx.relay.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Equal("failed", recipient["Action"]);
        Assert.Equal("5.1.10", recipient["Status"]);
    }

    [Fact]
    public async Task Null_MX_bounce_gives_the_reason_as_an_X_Router_diagnostic_code()
    {
        // No server replied: RFC 3464 s2.3.6's diagnostic-type is ours, as Postfix's "X-Postfix; ...".
        var token = await RelayAsync("user@nullmx.relay.test");

        var recipient = Assert.Single((await BounceAsync(token)).PerRecipient);
        Assert.Equal("X-Router; Domain nullmx.relay.test does not accept mail (null MX)", recipient["Diagnostic-Code"]);
        Assert.Null(recipient["Remote-MTA"]);
    }

    [Fact]
    public async Task Nonexistent_domain_bounces_at_once_with_5_1_2()
    {
        var token = await RelayAsync("user@nowhere.relay.test");

        var dsn = await BounceAsync(token);
        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("rfc822;user@nowhere.relay.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Equal("failed", recipient["Action"]);
        Assert.Equal("5.1.2", recipient["Status"]);
    }

    /// <summary>The bounce for the message (this router gives up only after days: a bounce now comes from the first attempt).</summary>
    private async Task<DsnReport> BounceAsync(string token)
    {
        return await Eventually.ValueAsync(
            () => DsnReport.FindAll(world.Router, Sender, token).SingleOrDefault(),
            Deadline,
            () => $"a bounce for {token} in {Sender}'s Maildir; router output:\n{world.Router.Output}");
    }

    private static string NoSpace(string? value) => (value ?? "").Replace(" ", "", StringComparison.Ordinal);
}
