using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// NOTIFY=SUCCESS (RFC 3461) through a real router, as Postfix honours it: a recipient relayed to
/// a next hop that offers no DSN gets the sender a "relayed" notice, one delivered into a local
/// Maildir a "delivered" notice; each arrives in the local sender's Maildir with a null
/// reverse-path, the original headers and the client's ENVID and ORCPT.
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class SuccessNoticeTests(RelayWorldFixture world)
{
    private const string Sender = "alice@example.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>MAIL with ENVID, one RCPT with NOTIFY=SUCCESS and ORCPT, the message; returns the router's queue id.</summary>
    private async Task<string> SendAsync(string token, string recipient)
    {
        await using var c = await world.Router.ConnectEhloAsync();
        await c.CommandAsync($"MAIL FROM:<{Sender}> ENVID={token}", "250");
        await c.CommandAsync($"RCPT TO:<{recipient}> NOTIFY=SUCCESS ORCPT=rfc822;{recipient}", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token, recipient));
        await c.SendAsync(".\r\n");
        return TestMessages.QueueIdOf(await c.ExpectAsync("250"));
    }

    private async Task<DsnReport> NoticeAsync(string token) => await Eventually.ValueAsync(
        () => DsnReport.FindAll(world.Router, Sender, token).SingleOrDefault(),
        Deadline,
        () => $"a success notice for {token}; router output:\n{world.Router.Output}");

    [Fact]
    public async Task Relayed_to_a_next_hop_without_DSN_the_sender_gets_a_relayed_notice()
    {
        var token = TestMessages.NewToken();
        var id = await SendAsync(token, "user@success.relay.test");

        var dsn = await NoticeAsync(token);

        Assert.Equal("<>", dsn.ReturnPath);
        Assert.Equal("Successful Mail Delivery Report", dsn.Message.Subject);
        Assert.Equal(token, dsn.PerMessage["Original-Envelope-Id"]);
        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("rfc822;user@success.relay.test", NoSpace(recipient["Original-Recipient"]));
        Assert.Equal("rfc822;user@success.relay.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Equal("relayed", recipient["Action"]);
        Assert.Equal("2.0.0", recipient["Status"]);
        Assert.Equal("dns;mx.success.relay.test", NoSpace(recipient["Remote-MTA"]));
        Assert.StartsWith("smtp; 250 2.0.0 Ok: queued as ", recipient["Diagnostic-Code"], StringComparison.Ordinal);
        Assert.Contains($"Subject: test {token}", dsn.ReturnedHeaders, StringComparison.Ordinal);
        Assert.DoesNotContain("Hello from the tests.", File.ReadAllText(dsn.File), StringComparison.Ordinal);
        await world.Router.WaitForOutputAsync($"{id}: sender delivery status notification: {dsn.QueueId}", Deadline);

        // Delivered once, and the queue let the message go once its notice was handed over.
        Assert.Single(world.Sink("success").MessagesWith(token));
        await Eventually.TrueAsync(() => !DeferralTests.SpoolHolds(world.Router, "success.relay.test"), TimeSpan.FromSeconds(5), () => "the spool still holds the relayed message");
    }

    [Fact]
    public async Task Delivered_to_a_local_mailbox_the_sender_gets_a_delivered_notice()
    {
        var token = TestMessages.NewToken();
        var id = await SendAsync(token, "bob@example.test");

        var dsn = await NoticeAsync(token);

        Assert.Equal("<>", dsn.ReturnPath);
        Assert.Equal("Successful Mail Delivery Report", dsn.Message.Subject);
        Assert.Equal(token, dsn.PerMessage["Original-Envelope-Id"]);
        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("rfc822;bob@example.test", NoSpace(recipient["Original-Recipient"]));
        Assert.Equal("rfc822;bob@example.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Equal("delivered", recipient["Action"]);
        Assert.Equal("2.0.0", recipient["Status"]);
        Assert.Null(recipient["Remote-MTA"]);
        Assert.Contains($"Subject: test {token}", dsn.ReturnedHeaders, StringComparison.Ordinal);
        Assert.Contains("delivered to mailbox", dsn.Explanation, StringComparison.Ordinal);
        await world.Router.WaitForOutputAsync($"{id}: sender delivery status notification: {dsn.QueueId}", Deadline);

        // The message itself is in bob's Maildir.
        Assert.Single(world.Router.Mailbox("bob@example.test").NewFiles(), f => File.ReadAllText(f).Contains($"Subject: test {token}", StringComparison.Ordinal));
    }

    private static string NoSpace(string? value) => (value ?? "").Replace(" ", "", StringComparison.Ordinal);
}
