using System.Net;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Interop with a receiving server we did not write: Postfix's smtp-sink, run as a child process
/// on the statically routed addresses. It takes a relayed message (dumped to a file with its
/// envelope), and with -f RCPT its hard RCPT failure becomes a bounce naming it as Remote-MTA.
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class PostfixInteropTests(RelayWorldFixture world) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly List<PostfixSmtpSink> _sinks = [];
    private readonly string _dumps = Directory.CreateTempSubdirectory("router-smtp-sink-").FullName;

    [Fact]
    public async Task Postfix_smtp_sink_receives_the_relayed_message_and_envelope()
    {
        await StartSmtpSinkAsync(RelayWorldFixture.PostfixSink, "-d", Path.Combine(_dumps, "%M."));
        var token = TestMessages.NewToken();
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, "user@postfix.relay.test"), "alice@example.test", ["user@postfix.relay.test"]);
        }

        var dump = await Eventually.ValueAsync(
            () => Directory.EnumerateFiles(_dumps).Select(File.ReadAllText).FirstOrDefault(t => t.Contains(token, StringComparison.Ordinal)),
            Deadline,
            () => $"a dump holding {token} in {_dumps}");
        // smtp-sink writes the envelope it saw as X- fields above the message.
        Assert.Contains("X-Helo-Args: mx.router.test", dump, StringComparison.Ordinal);
        Assert.Contains("X-Mail-Args: <alice@example.test>", dump, StringComparison.Ordinal);
        Assert.Contains("X-Rcpt-Args: <user@postfix.relay.test>", dump, StringComparison.Ordinal);
        Assert.Contains($"Subject: test {token}", dump, StringComparison.Ordinal);
        Assert.Contains("by mx.router.test", dump, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("RET=HDRS")]
    [InlineData("RET=FULL")]
    public async Task RET_as_the_client_gave_it_goes_on_to_Postfix_smtp_sink_which_offers_DSN(string ret)
    {
        // RFC 3461 s5.2.1. Without RET=HDRS the next hop picks its default, and Postfix's is the full message.
        await StartSmtpSinkAsync(RelayWorldFixture.PostfixSink, "-d", Path.Combine(_dumps, "%M."));
        var token = TestMessages.NewToken();
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await c.CommandAsync($"MAIL FROM:<alice@example.test> {ret} ENVID={token}", "250");
            await c.CommandAsync("RCPT TO:<user@postfix.relay.test> NOTIFY=FAILURE", "250");
            await c.CommandAsync("DATA", "354");
            await c.SendAsync(TestMessages.Create(token, "user@postfix.relay.test"));
            await c.CommandAsync(".", "250");
        }

        var dump = await Eventually.ValueAsync(
            () => Directory.EnumerateFiles(_dumps).Select(File.ReadAllText).FirstOrDefault(t => t.Contains(token, StringComparison.Ordinal)),
            Deadline,
            () => $"a dump holding {token} in {_dumps}");
        var mailArgs = Assert.Single(dump.Split('\n'), l => l.StartsWith("X-Mail-Args: ", StringComparison.Ordinal)).TrimEnd('\r');
        Assert.StartsWith("X-Mail-Args: <alice@example.test>", mailArgs, StringComparison.Ordinal);
        Assert.Contains($" {ret} ", mailArgs + " ", StringComparison.Ordinal);
        Assert.Contains($" ENVID={token}", mailArgs, StringComparison.Ordinal);
        Assert.Contains("X-Rcpt-Args: <user@postfix.relay.test> NOTIFY=FAILURE", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postfix_smtp_sink_hard_RCPT_failure_bounces_to_the_sender()
    {
        await StartSmtpSinkAsync(RelayWorldFixture.PostfixRejectingSink, "-f", "RCPT");
        var token = TestMessages.NewToken();
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, "user@postfix-reject.relay.test"), "carol@example.test", ["user@postfix-reject.relay.test"]);
        }

        var dsn = await Eventually.ValueAsync(
            () => DsnReport.FindAll(world.Router, "carol@example.test", token).SingleOrDefault(),
            Deadline,
            () => $"a bounce for {token}; router output:\n{world.Router.Output}");
        var recipient = Assert.Single(dsn.PerRecipient);
        Assert.Equal("failed", recipient["Action"]);
        Assert.StartsWith("5.", recipient["Status"], StringComparison.Ordinal);
        Assert.Contains(RelayWorldFixture.PostfixRejectingSink.ToString(), recipient["Remote-MTA"], StringComparison.Ordinal);
        Assert.StartsWith("smtp; 5", recipient["Diagnostic-Code"], StringComparison.Ordinal);
        Assert.Equal("<>", dsn.ReturnPath);
    }

    public void Dispose()
    {
        foreach (var sink in _sinks) sink.Dispose();
        Directory.Delete(_dumps, recursive: true);
    }

    /// <summary>Starts smtp-sink on the address and the world's MX port (it drops to "nobody"), and waits until it accepts connections.</summary>
    private async Task StartSmtpSinkAsync(IPAddress address, params string[] options)
    {
        // smtp-sink runs as nobody: it must be able to write its dumps.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dumps, (UnixFileMode)0x1FF);
        _sinks.Add(await PostfixSmtpSink.StartAsync(address, world.MxPort, options));
    }
}
