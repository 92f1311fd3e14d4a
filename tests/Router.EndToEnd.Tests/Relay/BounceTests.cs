using MimeKit;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Permanent failures become RFC 3464 bounces in the local sender's Maildir, sent with a null
/// reverse-path; a message that itself has a null reverse-path never causes one (RFC 5321
/// s4.5.5, RFC 3461 s6.2), so two routers can never bounce a bounce back and forth.
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class BounceTests(RelayWorldFixture world)
{
    private const string Sender = "alice@example.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Rejected_recipient_gets_the_sender_an_RFC_3464_bounce()
    {
        var token = TestMessages.NewToken();
        var original = TestMessages.Create(token, "user@bounce.relay.test");
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, original, Sender, ["user@bounce.relay.test"]);
        }

        var dsn = await Eventually.ValueAsync(
            () => DsnReport.FindAll(world.Router, Sender, token).SingleOrDefault(),
            Deadline,
            () => $"a bounce for {token}; router output:\n{world.Router.Output}");

        // The envelope and the top-level headers (RFC 3464 s2, RFC 6522).
        Assert.Equal("<>", dsn.ReturnPath);
        Assert.Equal("multipart/report", dsn.Report.ContentType.MimeType);
        Assert.Equal("delivery-status", dsn.Report.ReportType);
        Assert.Equal([Sender], dsn.Message.To.Mailboxes.Select(m => m.Address));
        Assert.Contains(dsn.Message.Headers, h => h.Id == HeaderId.AutoSubmitted && h.Value.StartsWith("auto-replied", StringComparison.Ordinal));

        // Per-message fields.
        Assert.Equal("dns;mx.router.test", NoSpace(dsn.PerMessage["Reporting-MTA"]));
        Assert.NotNull(dsn.PerMessage["Arrival-Date"]);

        // Per-recipient fields: the remote server's own words.
        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("rfc822;user@bounce.relay.test", NoSpace(recipient["Final-Recipient"]));
        Assert.Equal("failed", recipient["Action"]);
        Assert.Equal("5.1.1", recipient["Status"]);
        Assert.Equal("dns;mx.bounce.relay.test", NoSpace(recipient["Remote-MTA"]));
        Assert.Equal("smtp; 550 5.1.1 Mailbox unavailable (sink)", recipient["Diagnostic-Code"]);

        // The original message's headers come back (RFC 3462 text/rfc822-headers or the whole message).
        Assert.Contains($"Subject: test {token}", dsn.ReturnedHeaders, StringComparison.Ordinal);
        Assert.Contains($"Message-ID: <{token}@remote.test>", dsn.ReturnedHeaders, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("user@bounce.relay.test", dsn.Explanation, StringComparison.Ordinal);

        await Eventually.TrueAsync(() => !DeferralTests.SpoolHolds(world.Router, "bounce.relay.test"), TimeSpan.FromSeconds(5), () => "the spool still holds the bounced message");
    }

    [Fact]
    public async Task Bounce_is_logged_with_the_queue_id_of_the_notice()
    {
        var token = TestMessages.NewToken();
        string id;
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            id = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(token, "user@bounce.relay.test"), Sender, ["user@bounce.relay.test"]));
        }
        var dsn = await Eventually.ValueAsync(
            () => DsnReport.FindAll(world.Router, Sender, token).SingleOrDefault(),
            Deadline,
            () => $"a bounce for {token}; router output:\n{world.Router.Output}");

        // Postfix's "sender non-delivery notification: ID": the log links the message to its bounce.
        Assert.NotEmpty(dsn.QueueId);
        Assert.NotEqual(id, dsn.QueueId);
        await world.Router.WaitForOutputAsync($"{id}: to=<user@bounce.relay.test> relay=mx.bounce.relay.test status=Failed (550 5.1.1 Mailbox unavailable (sink))", Deadline);
        await world.Router.WaitForOutputAsync($"{id}: sender non-delivery notification: {dsn.QueueId}", Deadline);
    }

    [Fact]
    public async Task Null_sender_message_is_relayed_with_a_null_reverse_path()
    {
        var token = TestMessages.NewToken();
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, "user@trusted.relay.test"), "", ["user@trusted.relay.test"]);
        }

        var sink = world.Sink("trusted");
        await Eventually.TrueAsync(() => sink.MessagesWith(token).Length > 0, Deadline, () => $"sink stats {sink.Stats}");
        Assert.Equal("", Assert.Single(sink.MessagesWith(token)).ReversePath);
    }

    [Fact]
    public async Task Rejected_null_sender_message_causes_no_bounce()
    {
        var token = TestMessages.NewToken();
        var sink = world.Sink("null-sender");
        var before = sink.Stats.RecipientsPermFailed;
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, "user@null-sender.relay.test"), "", ["user@null-sender.relay.test"]);
        }
        await sink.WaitUntilAsync(s => s.RecipientsPermFailed > before, Deadline);
        await Eventually.TrueAsync(() => !DeferralTests.SpoolHolds(world.Router, "null-sender.relay.test"), Deadline, () => "the spool still holds the message");

        // A control message through the same domain queue, from a real sender: once its bounce
        // is in, anything the first message might have caused would be in too.
        var control = TestMessages.NewToken();
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(control, "user@null-sender.relay.test"), Sender, ["user@null-sender.relay.test"]);
        }
        await Eventually.TrueAsync(() => DsnReport.FindAll(world.Router, Sender, control).Count == 1, Deadline, () => "the control bounce");

        Assert.Empty(world.Router.FilesContaining(token));
        Assert.Empty(sink.MessagesWith(token));
        Assert.False(world.Router.HasExited);
    }

    private static string NoSpace(string? value) => (value ?? "").Replace(" ", "", StringComparison.Ordinal);
}
