using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// Every reply code of the inbound acceptance criteria, as client/server dialogs against the real
/// router (RFC 5321 s4.1, s4.2, s4.3.2; enhanced codes RFC 3463/RFC 2034).
/// </summary>
[Collection(InboundRouterCollection.Name)]
public sealed class ReplyCodeDialogTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Greeting_is_220_with_the_hostname()
    {
        await using var c = await SmtpDialog.ConnectAsync(_router.Port);
        var greeting = await c.ExpectAsync("220 ");
        Assert.StartsWith("220 mx.router.test ", greeting.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Helo_is_answered_250_with_the_hostname()
    {
        await using var c = await _router.ConnectAsync();
        var reply = await c.CommandAsync("HELO client.test", "250 ");
        Assert.Single(reply.Lines);
        Assert.Contains("mx.router.test", reply.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ehlo_lists_the_extensions()
    {
        await using var c = await _router.ConnectAsync();
        var reply = await c.CommandAsync("EHLO client.test", "250");
        Assert.StartsWith("250-mx.router.test", reply.Lines[0], StringComparison.Ordinal);
        var keywords = reply.Lines.Skip(1).Select(l => l[4..].Split(' ')[0]).ToHashSet();
        foreach (var extension in new[] { "PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "CHUNKING", "ENHANCEDSTATUSCODES" })
        {
            Assert.Contains(extension, keywords);
        }
        Assert.Contains($"250-SIZE {InboundRouterFixture.MaxMessageSize}", reply.Lines);
    }

    [Fact]
    public async Task Mail_before_helo_is_503()
    {
        await using var c = await _router.ConnectAsync();
        AssertEnhanced(await c.CommandAsync("MAIL FROM:<a@remote.test>", "503 5.5.1"));
    }

    [Fact]
    public async Task Rcpt_before_mail_is_503()
    {
        await using var c = await _router.ConnectEhloAsync();
        AssertEnhanced(await c.CommandAsync("RCPT TO:<alice@example.test>", "503 5.5.1"));
    }

    [Fact]
    public async Task Data_before_rcpt_is_503()
    {
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("DATA", "503 5.5.1");
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250 2.1.0");
        AssertEnhanced(await c.CommandAsync("DATA", "503 5.5.1"));
    }

    [Theory]
    [InlineData("MAIL FROM alice@remote.test")]
    [InlineData("EHLO")]
    [InlineData("VRFY")]
    [InlineData("RSET now")]
    public async Task Bad_syntax_is_501(string command)
    {
        await using var c = await _router.ConnectEhloAsync();
        AssertEnhanced(await c.CommandAsync(command, "501 5."));
    }

    [Theory]
    [InlineData("FOOBAR")]
    [InlineData("XYZZY hello")]
    [InlineData("MAILFROM:<a@remote.test>")]
    public async Task Unknown_command_is_500(string command)
    {
        await using var c = await _router.ConnectEhloAsync();
        AssertEnhanced(await c.CommandAsync(command, "500 5.5.1"));
        await c.CommandAsync("NOOP", "250");
    }

    [Fact]
    public async Task Command_line_of_2048_octets_is_accepted_and_2049_is_500_5_5_2()
    {
        await using var c = await _router.ConnectEhloAsync();
        // RFC 5321 s4.5.3.1.4's 512 octets, raised for the extensions offered (DSN, SIZE, AUTH=):
        // 2048 including CRLF, as Postfix's line_length_limit.
        await c.CommandAsync("NOOP " + new string('x', 2048 - 5 - 2), "250");
        var reply = await c.CommandAsync("NOOP " + new string('x', 2049 - 5 - 2), "500 5.5.2");
        AssertEnhanced(reply);
        await c.CommandAsync("NOOP", "250");
    }

    [Fact]
    public async Task Fourth_recipient_over_a_limit_of_three_is_452_4_5_3()
    {
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await c.CommandAsync("RCPT TO:<bob@example.test>", "250");
        await c.CommandAsync("RCPT TO:<carol@example.test>", "250");
        AssertEnhanced(await c.CommandAsync("RCPT TO:<demo@example.test>", "452 4.5.3"));
        // The transaction goes on with the recipients accepted so far.
        await c.CommandAsync("RSET", "250");
    }

    [Fact]
    public async Task Null_reverse_path_is_accepted_and_delivered()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        AssertEnhanced(await TestMessages.SendAsync(c, TestMessages.Create(token), from: "", to: ["alice@example.test"], final: "250 2.0.0"));
        var file = Assert.Single(_router.FilesContaining(token));
        Assert.StartsWith("Return-Path: <>\r\n", File.ReadAllText(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postmaster_without_domain_is_accepted_and_delivered_to_the_alias_target()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        AssertEnhanced(await c.CommandAsync("RCPT TO:<Postmaster>", "250 2.1.5"));
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token, to: "postmaster"));
        await c.SendAsync(".\r\n");
        await c.ExpectAsync("250");
        var file = Assert.Single(_router.FilesContaining(token));
        Assert.Equal(Path.Combine(_router.Mailbox("carol@example.test").Path, "new"), Path.GetDirectoryName(file));
    }

    [Fact]
    public async Task Postmaster_without_domain_goes_to_the_configured_postmaster_address()
    {
        using var router = await RouterProcess.StartAsync(new RouterOptions { Postmaster = "bob@example.test" });
        var token = TestMessages.NewToken();
        await using var c = await router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<postmaster>", "250 2.1.5");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token, to: "postmaster"));
        await c.SendAsync(".\r\n");
        await c.ExpectAsync("250");
        Assert.Single(router.Mailbox("bob@example.test").NewMessagesContaining(token));
    }

    [Fact]
    public async Task A_quoted_local_part_that_needs_no_quotes_reaches_the_mailbox()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, TestMessages.Create(token), from: "a@remote.test", to: ["\"alice\"@example.test"]);

        var file = Assert.Single(_router.FilesContaining(token));
        Assert.StartsWith(Path.Combine(_router.Mailbox("alice@example.test").Path, "new"), file, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Return_Path_written_by_the_client_is_dropped_for_the_one_of_the_delivery()
    {
        var token = TestMessages.NewToken();
        var message = Encoding.ASCII.GetBytes("Return-Path: <forged@elsewhere.test>\r\nreturn-path:\r\n <folded@elsewhere.test>\r\n")
            .Concat(TestMessages.Create(token)).ToArray();
        await using var c = await _router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, message, from: "a@remote.test", to: ["alice@example.test"]);

        var text = File.ReadAllText(Assert.Single(_router.FilesContaining(token)));
        Assert.StartsWith("Return-Path: <a@remote.test>\r\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split("\r\n"), l => l.StartsWith("Return-Path:", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain("elsewhere.test", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RCPT TO:<a@@example.test>")]
    [InlineData("RCPT TO:<alice@example..test>")]
    [InlineData("RCPT TO:<@example.test>")]
    public async Task Malformed_recipient_is_refused(string command)
    {
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        AssertEnhanced(await c.CommandAsync(command, "501 5.1.3"));
    }

    [Fact]
    public async Task Source_route_is_accepted_and_ignored()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<@hop1.remote.test,@hop2.remote.test:a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<@relay.remote.test:alice@example.test>", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token));
        await c.SendAsync(".\r\n");
        await c.ExpectAsync("250");
        var file = Assert.Single(_router.FilesContaining(token));
        Assert.StartsWith(Path.Combine(_router.Mailbox("alice@example.test").Path, "new"), file, StringComparison.Ordinal);
        Assert.StartsWith("Return-Path: <a@remote.test>\r\n", File.ReadAllText(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_local_user_is_550_5_1_1()
    {
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        AssertEnhanced(await c.CommandAsync("RCPT TO:<nobody@example.test>", "550 5.1.1"));
    }

    [Fact]
    public async Task Non_local_domain_from_an_untrusted_client_is_554_5_7_1()
    {
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        AssertEnhanced(await c.CommandAsync("RCPT TO:<someone@elsewhere.test>", "554 5.7.1"));
        // No recipient was accepted, so there is nothing to send.
        await c.CommandAsync("DATA", "503");
    }

    [Theory]
    [InlineData("VRFY alice", "252 2.")]
    [InlineData("EXPN team", "502 5.")]
    [InlineData("VERB", "502 5.")]
    [InlineData("HELP", "214")]
    [InlineData("NOOP", "250 2.")]
    [InlineData("RSET", "250 2.")]
    public async Task Informational_commands_get_their_codes(string command, string expected)
    {
        await using var c = await _router.ConnectEhloAsync();
        AssertEnhanced(await c.CommandAsync(command, expected));
    }

    [Fact]
    public async Task Quit_is_221_and_closes()
    {
        await using var c = await _router.ConnectEhloAsync();
        AssertEnhanced(await c.CommandAsync("QUIT", "221 2.0.0"));
        await c.ExpectClosedAsync();
    }

    /// <summary>ENHANCEDSTATUSCODES (RFC 2034): the reply carries an x.y.z code of its own class.</summary>
    private static void AssertEnhanced(SmtpResponse reply) =>
        Assert.True(reply.EnhancedCode is not null, $"no enhanced status code in: {reply}");
}
