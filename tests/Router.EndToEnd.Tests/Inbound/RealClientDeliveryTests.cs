using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// Real clients and readers: MailKit and swaks send, the Maildir file in new/ holds exactly the
/// bytes sent after the router's trace headers, and Python's mailbox.Maildir reads it back.
/// </summary>
public sealed class RealClientDeliveryTests(RealClientDeliveryTests.Fixture fixture) : IClassFixture<RealClientDeliveryTests.Fixture>
{
    private readonly RouterProcess _router = fixture.Router;

    public sealed class Fixture : RouterFixture
    {
        protected override RouterOptions Options => new();
    }

    [Fact]
    public async Task MailKit_message_is_stored_byte_for_byte_after_the_trace_headers()
    {
        var token = TestMessages.NewToken();
        var message = NewMimeMessage(token, "alice@example.test");
        await SendWithMailKitAsync(message);

        var expected = Serialize(message);
        var stored = Assert.Single(_router.Mailbox("alice@example.test").NewFiles());
        var bytes = await File.ReadAllBytesAsync(stored);
        Assert.Equal(expected, MaildirView.StripTrace(bytes));
        var trace = MaildirView.TraceOf(bytes);
        Assert.StartsWith("Return-Path: <sender@remote.test>\r\nDelivered-To: alice@example.test\r\nReceived: from ", trace, StringComparison.Ordinal);
        Assert.Contains("by mx.router.test (Router) with ESMTP id ", trace, StringComparison.Ordinal);
        await _router.Mailbox("alice@example.test").TmpEmptiesAsync();
    }

    [Fact]
    public async Task Each_accepted_message_is_logged_with_its_queue_id()
    {
        var token = TestMessages.NewToken();
        await SendWithMailKitAsync(NewMimeMessage(token, "demo@example.test"));

        var trace = MaildirView.TraceOf(await File.ReadAllBytesAsync(Assert.Single(_router.Mailbox("demo@example.test").NewFiles())));
        var queueId = System.Text.RegularExpressions.Regex.Match(trace, @"with ESMTP id ([0-9A-Za-z]+)").Groups[1].Value;
        Assert.NotEmpty(queueId);
        // The logger buffers lines and flushes behind them: the line comes out without more traffic.
        await _router.WaitForOutputAsync($"{queueId}: from=<sender@remote.test> size=", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Python_mailbox_reads_the_delivered_message()
    {
        var token = TestMessages.NewToken();
        await SendWithMailKitAsync(NewMimeMessage(token, "bob@example.test"));

        var (exit, stdout, stderr) = await ExternalProgram.RunAsync("python3", null, "-c",
            "import mailbox, sys\n" +
            "md = mailbox.Maildir(sys.argv[1], factory=None, create=False)\n" +
            "for key, msg in md.items():\n" +
            "    print(msg['Subject'] + '|' + msg['Delivered-To'] + '|' + msg.get_payload().splitlines()[0])\n",
            _router.Mailbox("bob@example.test").Path);
        Assert.True(exit == 0, $"python3 failed ({exit}): {stderr}");
        Assert.Equal($"MailKit {token}|bob@example.test|Hello {token}", stdout.Trim());
    }

    [Fact]
    public async Task Swaks_message_is_delivered()
    {
        Assert.True(File.Exists("/usr/bin/swaks"), "swaks is not installed at /usr/bin/swaks (scripts/test.sh installs it: apt-get install swaks)");
        var token = TestMessages.NewToken();
        var (exit, stdout, stderr) = await ExternalProgram.RunAsync("/usr/bin/swaks", null,
            "--server", "127.0.0.1", "--port", _router.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--ehlo", "swaks.test", "--from", "sender@remote.test", "--to", "carol@example.test",
            "--header", $"Subject: swaks {token}", "--body", $"Body {token}");
        Assert.True(exit == 0, $"swaks failed ({exit}):\n{stdout}\n{stderr}");

        var stored = Assert.Single(_router.Mailbox("carol@example.test").NewMessagesContaining(token));
        var text = System.Text.Encoding.ASCII.GetString(stored);
        Assert.Contains($"Subject: swaks {token}\r\n", text, StringComparison.Ordinal);
        Assert.Contains($"Body {token}", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\n.\r\n", text, StringComparison.Ordinal);
    }

    private async Task SendWithMailKitAsync(MimeMessage message)
    {
        using var client = new SmtpClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync("127.0.0.1", _router.Port, SecureSocketOptions.None, cts.Token);
        Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Pipelining));
        await client.SendAsync(message, cts.Token);
        await client.DisconnectAsync(quit: true, cts.Token);
    }

    private static MimeMessage NewMimeMessage(string token, string to)
    {
        var message = new MimeMessage
        {
            Subject = $"MailKit {token}",
            MessageId = $"{token}@remote.test",
            Date = new DateTimeOffset(2026, 11, 29, 15, 0, 0, TimeSpan.Zero),
            Body = new TextPart("plain") { Text = $"Hello {token}\r\n.a line with a leading dot\r\n" },
        };
        message.From.Add(new MailboxAddress("Sender", "sender@remote.test"));
        message.To.Add(new MailboxAddress("Recipient", to));
        return message;
    }

    /// <summary>The message as MailKit puts it on the wire before dot-stuffing: CRLF line endings.</summary>
    private static byte[] Serialize(MimeMessage message)
    {
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        using var stream = new MemoryStream();
        message.WriteTo(options, stream);
        return stream.ToArray();
    }
}
