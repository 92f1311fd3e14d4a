using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// What DATA accepts, through the real socket: only CRLF.CRLF ends a message, so the SMTP
/// smuggling endings (CVE-2023-51764/51765/51766) are refused as bare line endings and the commands
/// hidden after them never run; NUL and over-long lines are refused; 998 octets pass.
/// </summary>
[Collection(InboundRouterCollection.Name)]
public sealed class DataContentTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Theory]
    [InlineData("\n.\n")]
    [InlineData("\n.\r\n")]
    [InlineData("\r\n.\n")]
    [InlineData("\r.\r")]
    [InlineData("\r\n.\r")]
    [InlineData("\r\n.\r\r\n")]
    public async Task Smuggled_end_of_data_is_refused_and_the_hidden_commands_never_run(string fakeEnd)
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(
            $"Subject: outer {token}\r\n\r\nhello" + fakeEnd +
            "MAIL FROM:<evil@remote.test>\r\n" +
            "RCPT TO:<bob@example.test>\r\n" +
            "DATA\r\n" +
            $"Subject: smuggled {token}\r\n\r\nevil" +
            "\r\n.\r\n");

        // Exactly one reply for the whole DATA: a refusal.
        var reply = await c.ExpectAsync("5");
        Assert.Equal(550, reply.Code);
        Assert.Equal("5.6.0", reply.EnhancedCode);
        // The next reply answers our NOOP: no reply was produced for a smuggled command.
        var next = await c.CommandAsync("NOOP", "250");
        Assert.Equal("250 2.0.0 OK", Assert.Single(next.Lines));
        // The session is back to no transaction: the smuggled MAIL did not start one.
        await c.CommandAsync("RCPT TO:<bob@example.test>", "503");
        Assert.Empty(_router.FilesContaining(token));
    }

    [Fact]
    public async Task Nul_in_data_is_refused_and_nothing_is_delivered()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        var message = Encoding.ASCII.GetBytes($"Subject: {token}\r\n\r\nbefore\0after\r\n");
        var reply = await TestMessages.SendAsync(c, message, "a@remote.test", ["alice@example.test"], final: "550 5.6.0");
        Assert.Contains("NUL", reply.Text, StringComparison.Ordinal);
        Assert.Empty(_router.FilesContaining(token));
        await c.CommandAsync("NOOP", "250");
    }

    [Fact]
    public async Task Line_of_998_octets_is_accepted_byte_for_byte()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        var message = TestMessages.Create(token, body: new string('a', 998) + "\r\n");
        await TestMessages.SendAsync(c, message, "a@remote.test", ["alice@example.test"]);
        Assert.Equal(message, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
    }

    [Fact]
    public async Task Line_of_1000_octets_is_refused()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        var message = TestMessages.Create(token, body: new string('a', 1000) + "\r\n");
        await TestMessages.SendAsync(c, message, "a@remote.test", ["alice@example.test"], final: "550 5.6.0");
        Assert.Empty(_router.FilesContaining(token));
        await c.CommandAsync("NOOP", "250");
    }

    [Fact]
    public async Task Dot_stuffed_lines_are_unstuffed()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        var wire = TestMessages.Create(token, body: "..leading dot\r\n...\r\n");
        await TestMessages.SendAsync(c, wire, "a@remote.test", ["alice@example.test"]);
        var expected = TestMessages.Create(token, body: ".leading dot\r\n..\r\n");
        Assert.Equal(expected, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
    }
}
