using System.Net;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// The log read as Postfix's maillog: a line per local mailbox copy (with orig_to for an alias),
/// a NOQUEUE reject line per refused RCPT, and connect, disconnect (with the command counts) and
/// lost-connection lines per session. Each session comes from a loopback address of its own, so
/// its lines cannot be another test's.
/// </summary>
[Collection(InboundRouterCollection.Name)]
public sealed class MaillogTests(InboundRouterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly RouterProcess _router = fixture.Router;

    /// <summary>Sends a message from a@remote.test to <paramref name="rcpt"/> in a session of its own; its queue id.</summary>
    private async Task<string> SendAsync(string rcpt, string to = "alice@example.test")
    {
        await using var c = await _router.ConnectEhloAsync();
        return TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(TestMessages.NewToken(), to), "a@remote.test", [rcpt]));
    }

    [Fact]
    public async Task A_local_delivery_logs_its_mailbox()
    {
        var id = await SendAsync("alice@example.test");

        await ExpectLineAsync($"{id}: to=<alice@example.test> relay=maildir status=Sent (delivered to maildir)");
        Assert.Single(Lines($"{id}: to="));
    }

    [Fact]
    public async Task An_alias_logs_each_mailbox_once_with_the_address_the_client_gave()
    {
        // team -> alice, bob, alice: two copies; the log names team as each one's orig_to.
        var id = await SendAsync("team@example.test", to: "team@example.test");

        await ExpectLineAsync($"{id}: to=<alice@example.test> orig_to=<team@example.test> relay=maildir status=Sent (delivered to maildir)");
        await ExpectLineAsync($"{id}: to=<bob@example.test> orig_to=<team@example.test> relay=maildir status=Sent (delivered to maildir)");
        Assert.Equal(2, Lines($"{id}: to=").Count);
    }

    [Fact]
    public async Task Rcpt_to_a_bare_postmaster_logs_postmaster_as_the_address_the_client_gave()
    {
        // <Postmaster> without a domain (RFC 5321 s4.1.1.3) goes to router.postmaster, here an alias of carol.
        var id = await SendAsync("Postmaster");

        await ExpectLineAsync($"{id}: to=<carol@example.test> orig_to=<postmaster> relay=maildir status=Sent (delivered to maildir)");
        Assert.Single(Lines($"{id}: to="));
    }

    [Fact]
    public async Task A_relay_refused_to_an_untrusted_client_logs_a_NOQUEUE_reject()
    {
        var rcpt = TestMessages.NewToken() + "@remote.test";
        await using var c = await _router.ConnectEhloAsync("untrusted.client.test");
        await c.CommandAsync("MAIL FROM:<a@client.test>", "250");
        await c.CommandAsync($"RCPT TO:<{rcpt}>", "554 5.7.1");

        await ExpectLineAsync(
            $"NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 Relay access denied; from=<a@client.test> to=<{rcpt}> proto=ESMTP helo=<untrusted.client.test>");
    }

    [Fact]
    public async Task A_session_logs_connect_and_disconnect_with_its_command_counts()
    {
        await using (var c = await SmtpDialog.ConnectAsync(_router.Port, IPAddress.Parse("127.0.0.151")))
        {
            await c.ExpectAsync("220");
            await c.CommandAsync("EHLO counted.test", "250");
            await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
            await c.CommandAsync("RCPT TO:<nobody@remote.test>", "554");
            await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
            await c.CommandAsync("DATA", "354");
            await c.SendAsync(TestMessages.Create(TestMessages.NewToken()));
            await c.CommandAsync(".", "250");
            await c.CommandAsync("QUIT", "221");
        }

        await ExpectLineAsync("connect from unknown[127.0.0.151]");
        // Postfix's counts: accepted, or accepted/given where some were refused.
        await ExpectLineAsync("disconnect from unknown[127.0.0.151] ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6");
    }

    [Fact]
    public async Task A_client_that_hangs_up_without_QUIT_is_logged_as_a_lost_connection()
    {
        await using (var c = await SmtpDialog.ConnectAsync(_router.Port, IPAddress.Parse("127.0.0.152")))
        {
            await c.ExpectAsync("220");
            await c.CommandAsync("EHLO gone.test", "250");
            await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        }

        await ExpectLineAsync("lost connection after MAIL from unknown[127.0.0.152]");
        await ExpectLineAsync("disconnect from unknown[127.0.0.152] ehlo=1 mail=1 commands=2");
    }

    /// <summary>Waits for a log line whose message is exactly <paramref name="message"/> (after Akka's "[INFO][time][thread][source] ").</summary>
    private async Task ExpectLineAsync(string message)
    {
        await _router.WaitForOutputAsync(message, Deadline);
        Assert.Contains(Lines(message), l => l.TrimEnd('\r').EndsWith("] " + message, StringComparison.Ordinal));
    }

    private List<string> Lines(string containing) =>
        _router.Output.Split('\n').Where(l => l.Contains(containing, StringComparison.Ordinal)).ToList();
}
