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

    /// <summary>MAIL with ENVID, one RCPT with NOTIFY=SUCCESS (and ORCPT unless told not to), the message; returns the router's queue id.</summary>
    private async Task<string> SendAsync(string token, string recipient, bool orcpt = true)
    {
        await using var c = await world.Router.ConnectEhloAsync();
        await c.CommandAsync($"MAIL FROM:<{Sender}> ENVID={token}", "250");
        await c.CommandAsync($"RCPT TO:<{recipient}> NOTIFY=SUCCESS" + (orcpt ? $" ORCPT=rfc822;{recipient}" : ""), "250");
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

    [Fact]
    public async Task An_alias_of_one_remote_address_passes_NOTIFY_on_and_the_notice_names_the_alias()
    {
        var token = TestMessages.NewToken();
        await SendAsync(token, "forward@example.test", orcpt: false);

        var dsn = await NoticeAsync(token);

        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("relayed", recipient["Action"]);
        Assert.Equal("rfc822;forwarded@success.relay.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Equal("rfc822;forward@example.test", NoSpace(recipient["Original-Recipient"]));
        Assert.Single(world.Sink("success").MessagesWith(token));
    }

    [Fact]
    public async Task An_alias_of_several_addresses_gets_one_expanded_notice_and_its_targets_none()
    {
        var token = TestMessages.NewToken();
        var id = await SendAsync(token, "expand@example.test");

        var dsn = await NoticeAsync(token);

        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("expanded", recipient["Action"]);
        Assert.Equal("2.0.0", recipient["Status"]);
        Assert.Equal("rfc822;expand@example.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Contains("alias expanded", dsn.Explanation, StringComparison.Ordinal);
        // Both targets have the message; the queue lets the relayed copy go only after any notice it
        // owed was handed over, so once it has, no other notice came.
        Assert.Single(world.Router.Mailbox("bob@example.test").NewFiles(), f => File.ReadAllText(f).Contains($"Subject: test {token}", StringComparison.Ordinal));
        await Eventually.TrueAsync(() => world.Sink("success").MessagesWith(token).Length == 1, Deadline, () => "the remote target did not get the message");
        await Eventually.TrueAsync(() => !DeferralTests.SpoolHolds(world.Router, "success.relay.test"), Deadline, () => "the spool still holds the relayed message");
        await world.Router.WaitForOutputAsync($"{id}: to=<expanded@success.relay.test>", Deadline);
        Assert.Single(DsnReport.FindAll(world.Router, Sender, token));
    }

    private static string NoSpace(string? value) => (value ?? "").Replace(" ", "", StringComparison.Ordinal);
}
