using System.Diagnostics;
using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// Hostile and broken clients: junk, NUL, huge lines, vanishing mid-DATA, silence, error storms,
/// control characters in EHLO. Each gets a bounded answer, nothing partial is delivered, and the
/// router goes on serving a normal client afterwards.
/// </summary>
public sealed class BadInputTests(BadInputTests.Fixture fixture) : IClassFixture<BadInputTests.Fixture>
{
    private const int MaxErrors = 5;
    private readonly RouterProcess _router = fixture.Router;

    public sealed class Fixture : RouterFixture
    {
        protected override RouterOptions Options => new() { IdleTimeout = TimeSpan.FromSeconds(2), MaxErrors = MaxErrors };
    }

    [Fact]
    public async Task Random_binary_junk_ends_the_connection_and_the_router_still_serves()
    {
        var junk = new byte[64 * 1024];
        new Random(42).NextBytes(junk);
        await using (var c = await _router.ConnectAsync())
        {
            try
            {
                await c.SendAsync(junk);
            }
            catch (IOException)
            {
                // The router may close on us (too many errors) while we are still writing.
            }
            await c.ReadToCloseAsync();
        }
        await AssertStillServesAsync();
    }

    [Theory]
    [InlineData("\0\0\0\0", "500 5.5.2")]
    [InlineData("NOOP\0", "500 5.5.2")]
    [InlineData("MAIL FROM:<a\0@remote.test>", "501 5.5.2")]
    public async Task Nul_in_a_command_is_refused(string command, string expected)
    {
        await using (var c = await _router.ConnectEhloAsync())
        {
            await c.CommandAsync(command, expected);
            await c.CommandAsync("NOOP", "250");
        }
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task One_megabyte_line_gets_a_single_500_and_the_session_goes_on()
    {
        await using (var c = await _router.ConnectEhloAsync())
        {
            await c.SendAsync(Encoding.ASCII.GetBytes(new string('X', 1024 * 1024) + "\r\n"));
            await c.ExpectAsync("500 5.5.2");
            // The next reply is the NOOP's: the long line produced exactly one reply.
            await c.CommandAsync("NOOP", "250 2.0.0 OK");
        }
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Disconnect_mid_data_delivers_nothing_and_leaves_tmp_empty()
    {
        var token = TestMessages.NewToken();
        await using (var c = await _router.ConnectEhloAsync())
        {
            await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
            await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
            await c.CommandAsync("DATA", "354");
            await c.SendAsync(TestMessages.Create(token));
            // No final dot: the client goes away.
        }
        // A later message through the same mailbox is acknowledged: the dropped session is long done.
        await AssertStillServesAsync("alice@example.test");
        Assert.Empty(_router.FilesContaining(token));
        await _router.Mailbox("alice@example.test").TmpEmptiesAsync();
    }

    [Fact]
    public async Task Idle_client_gets_421_4_4_2_and_is_disconnected()
    {
        await using (var c = await _router.ConnectEhloAsync())
        {
            var clock = Stopwatch.StartNew();
            await c.ExpectAsync("421 4.4.2");
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"421 came after {clock.Elapsed}, before the 2 s idle timeout");
            await c.ExpectClosedAsync();
        }
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Too_many_bad_commands_get_421_and_a_close()
    {
        await using (var c = await _router.ConnectEhloAsync())
        {
            for (var i = 1; i < MaxErrors; i++) await c.CommandAsync("FOO", "500");
            await c.CommandAsync("FOO", "500");
            await c.ExpectAsync("421 4.7.0");
            await c.ExpectClosedAsync();
        }
        await AssertStillServesAsync();
    }

    [Theory]
    [InlineData("ev\u001bil.client.test")]
    [InlineData("evil.client.test\u0001")]
    [InlineData("evil\rX-Injected: yes")]
    public async Task Ehlo_name_with_control_characters_is_501_and_never_appears_in_a_header(string name)
    {
        var token = TestMessages.NewToken();
        await using (var c = await _router.ConnectAsync())
        {
            await c.CommandAsync("EHLO " + name, "501");
            // The name was not taken: the session still needs a greeting.
            await c.CommandAsync("MAIL FROM:<a@remote.test>", "503");
            await c.CommandAsync("EHLO good.client.test", "250");
            await TestMessages.SendAsync(c, TestMessages.Create(token), "a@remote.test", ["alice@example.test"]);
        }
        var file = await File.ReadAllBytesAsync(Assert.Single(_router.FilesContaining(token)));
        var trace = MaildirView.TraceOf(file);
        Assert.Contains("Received: from good.client.test ", trace, StringComparison.Ordinal);
        Assert.DoesNotContain("evil", Encoding.Latin1.GetString(file), StringComparison.Ordinal);
        Assert.DoesNotContain("X-Injected", Encoding.Latin1.GetString(file), StringComparison.Ordinal);
    }

    /// <summary>A normal client still gets its message delivered.</summary>
    private async Task AssertStillServesAsync(string mailbox = "demo@example.test")
    {
        Assert.False(_router.HasExited, "the router process died:\n" + _router.Output);
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token, to: mailbox);
        await using var c = await _router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, message, "a@remote.test", [mailbox]);
        await c.CommandAsync("QUIT", "221");
        Assert.Equal(message, Assert.Single(_router.Mailbox(mailbox).NewMessagesContaining(token)));
    }
}
