using System.Net.Sockets;
using System.Text;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.LoadTest;

/// <summary>The sink's SMTP side spoken to over a raw socket, as dialogue scripts (RFC 5321, RFC 2920).</summary>
public sealed class SinkProtocolTests
{
    private readonly CancellationTokenSource _backstop = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _backstop.Token;

    /// <summary>Sends <paramref name="input"/> in one write, then reads until <paramref name="replies"/> reply lines (final lines) arrived.</summary>
    private async Task<string[]> ConverseAsync(SmtpSink sink, string input, int replies)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(sink.EndPoint, Ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(input), Ct);
        var received = new StringBuilder();
        var buffer = new byte[8192];
        var lines = Array.Empty<string>();
        while (lines.Count(l => l.Length >= 4 && l[3] == ' ') < replies)
        {
            var n = await stream.ReadAsync(buffer, Ct);
            if (n == 0) break;
            received.Append(Encoding.UTF8.GetString(buffer, 0, n));
            var text = received.ToString();
            lines = text[..(text.LastIndexOf('\n') + 1)].Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        }
        return lines.Where(l => l.Length >= 4 && l[3] == ' ').ToArray();
    }

    [Fact]
    public async Task Pipelined_commands_get_their_replies_in_order()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { Rules = [RecipientRule.Parse("^no=550")] });
        var replies = await ConverseAsync(sink,
            "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<no@y.test>\r\nRCPT TO:<yes@y.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n", 8);
        Assert.Equal(["220", "250", "250", "550", "250", "354", "250", "221"], replies.Select(r => r[..3]));
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_greeted_with_421_and_closed()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { MaxConnections = 1 });
        using var first = new TcpClient();
        await first.ConnectAsync(sink.EndPoint, Ct);
        var firstReader = new StreamReader(first.GetStream());
        Assert.StartsWith("220 ", await firstReader.ReadLineAsync(Ct));

        using (var second = new TcpClient())
        {
            await second.ConnectAsync(sink.EndPoint, Ct);
            var text = await new StreamReader(second.GetStream()).ReadToEndAsync(Ct); // the sink closes it
            Assert.Equal("421 4.7.0 sink.test Too many connections, try again later\r\n", text);
        }
        var stats = await sink.WaitUntilAsync(s => s.ActiveConnections == 1, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal((1, 1), (stats.ConnectionsTurnedAway, stats.PeakConnections));

        // Once the first has gone, a new one is served.
        first.Dispose();
        await sink.WaitUntilAsync(s => s.ActiveConnections == 0, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(["220", "221"], (await ConverseAsync(sink, "QUIT\r\n", 2)).Select(r => r[..3]));
    }

    [Fact]
    public async Task The_reply_to_the_final_dot_waits_for_the_data_delay()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { DataReplyDelay = TimeSpan.FromSeconds(1) });
        const string transaction = "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var both = await Task.WhenAll(ConverseAsync(sink, transaction, 7), ConverseAsync(sink, transaction, 7));
        Assert.All(both, replies => Assert.Equal(["220", "250", "250", "250", "354", "250", "221"], replies.Select(r => r[..3])));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1), $"answered after {clock.ElapsedMilliseconds} ms");
        // The two messages waited for their replies at the same time.
        Assert.Equal(2, sink.Stats.PeakMessagesInFlight);
    }

    [Fact]
    public async Task EHLO_announces_the_extensions_the_generator_relies_on()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { MaxMessageSize = 12345 });
        using var client = new TcpClient();
        await client.ConnectAsync(sink.EndPoint, Ct);
        var stream = client.GetStream();
        await stream.WriteAsync("EHLO c.test\r\nQUIT\r\n"u8.ToArray(), Ct);
        var text = await new StreamReader(stream).ReadToEndAsync(Ct);
        foreach (var ext in new[] { "250-PIPELINING", "250-8BITMIME", "250-SMTPUTF8", "250-SIZE 12345", "250 ENHANCEDSTATUSCODES" })
            Assert.Contains("\r\n" + ext + "\r\n", text);
    }

    [Fact]
    public async Task Bare_LF_dot_does_not_end_DATA_and_stuffed_dots_are_removed()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { CaptureMessages = true });
        var replies = await ConverseAsync(sink,
            "HELO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" +
            "Subject: x\r\n\r\n..dotted\r\nsmuggle\n.\nMAIL FROM:<evil@x.test>\r\nend\r\n.\r\nQUIT\r\n", 7);

        Assert.Equal(["220", "250", "250", "250", "354", "250", "221"], replies.Select(r => r[..3]));
        var message = Assert.Single(sink.Messages);
        Assert.Equal("Subject: x\r\n\r\n.dotted\r\nsmuggle\n.\nMAIL FROM:<evil@x.test>\r\nend\r\n", Encoding.ASCII.GetString(message.Data));
        Assert.Equal(1, sink.Stats.Transactions);
    }

    [Theory]
    [InlineData("X-Loadtest-Sent:\r\n {0}\r\n")]
    [InlineData("x-loadtest-sent: \r\n\t{0}\r\n")]
    [InlineData("X-Loadtest-Sent: {0}\r\n")]
    public async Task End_to_end_latency_is_measured_from_the_timestamp_header_folded_or_not(string header)
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var sent = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 2000;
        var replies = await ConverseAsync(sink,
            "HELO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" +
            "Subject: with\r\n" + string.Format(System.Globalization.CultureInfo.InvariantCulture, header, sent) + "\r\nbody\r\n.\r\n" +
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: without\r\n\r\nX-Loadtest-Sent: 1\r\n.\r\nQUIT\r\n", 11);

        Assert.Equal(["220", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"], replies.Select(r => r[..3]));
        var stats = sink.Stats;
        Assert.Equal(2, stats.Messages);
        // One sample, from the header; the message without one (the line in its body is no header) has none.
        Assert.Equal(1, stats.LatencySamples);
        Assert.InRange(stats.LatencyMaxMs, 2000, 60_000);
    }

    [Fact]
    public async Task DATA_without_an_accepted_recipient_is_refused()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { PermFailFraction = 1 });
        var replies = await ConverseAsync(sink, "HELO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nQUIT\r\n", 6);
        Assert.Equal(["220", "250", "250", "550", "554", "221"], replies.Select(r => r[..3]));
        Assert.Equal(0, sink.Stats.Messages);
    }

    [Fact]
    public async Task Commands_out_of_sequence_are_refused()
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var replies = await ConverseAsync(sink,
            "RCPT TO:<b@y.test>\r\nDATA\r\nMAIL FROM:<a@x.test>\r\nMAIL FROM:<a@x.test>\r\nRSET\r\nVRFY x\r\nMAIL FROM:a@x.test\r\nQUIT\r\n", 9);
        Assert.Equal(["220", "503", "503", "250", "503", "250", "502", "501", "221"], replies.Select(r => r[..3]));
    }

    [Fact]
    public async Task Declared_SIZE_over_the_limit_is_refused_at_MAIL()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { MaxMessageSize = 1000 });
        var replies = await ConverseAsync(sink, "EHLO c.test\r\nMAIL FROM:<a@x.test> SIZE=1001\r\nQUIT\r\n", 4);
        Assert.StartsWith("552 5.3.4", replies[2]);
    }

    [Fact]
    public async Task Message_over_the_limit_is_refused_after_DATA()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { MaxMessageSize = 100 });
        var replies = await ConverseAsync(sink,
            "HELO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" + new string('x', 300) + "\r\n.\r\nNOOP\r\n", 7);
        Assert.StartsWith("552", replies[5]);
        Assert.StartsWith("250", replies[6]);
        Assert.Equal(1, sink.Stats.MessagesRejected);
        Assert.Equal(0, sink.Stats.Messages);
    }

    [Fact]
    public async Task WaitUntilAsync_times_out_with_the_last_stats()
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var e = await Assert.ThrowsAsync<TimeoutException>(() => sink.WaitUntilAsync(s => s.Messages > 0, TimeSpan.FromMilliseconds(100), Ct));
        Assert.Contains("Messages = 0", e.Message);
    }
}
