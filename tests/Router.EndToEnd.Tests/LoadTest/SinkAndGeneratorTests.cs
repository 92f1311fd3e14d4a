using System.Net;
using System.Net.Sockets;
using Router.LoadTest.Generator;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.LoadTest;

/// <summary>The load generator against the counting sink, both in-process on a loopback port: counts must agree exactly.</summary>
public sealed class SinkAndGeneratorTests
{
    private readonly CancellationTokenSource _backstop = new(TimeSpan.FromSeconds(90));

    private CancellationToken Ct => _backstop.Token;

    /// <summary>With one recipient per message, both ends count the same accepted messages and 4xx and 5xx refusals.</summary>
    private static void AssertOutcomes(LoadReport report, SinkStats stats, int accepted, int tempFailed, int permFailed)
    {
        Assert.Equal(accepted, report.Accepted);
        Assert.Equal(tempFailed, report.TempFailed);
        Assert.Equal(permFailed, report.PermFailed);
        Assert.Equal(accepted, stats.Messages);
        Assert.Equal(tempFailed, stats.RecipientsTempFailed);
        Assert.Equal(permFailed, stats.RecipientsPermFailed);
    }

    [Fact]
    public async Task Two_hundred_messages_over_four_connections_are_counted_exactly_at_both_ends()
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var options = SinkFixture.LoadAt(sink) with { Connections = 4, Messages = 200, RecipientsPerMessage = 2, Size = SizeRange.Parse("1k-8k") };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(200, report.Sent);
        Assert.Equal(200, report.Accepted);
        Assert.Equal(0, report.TempFailed + report.PermFailed + report.Aborted + report.ConnectionErrors);
        Assert.Equal(400, report.RecipientsAccepted);
        Assert.InRange(report.BytesAccepted, 200 * 1024, 200 * 8192);
        Assert.True(report.LatencyP50Ms > 0 && report.LatencyP50Ms <= report.LatencyP99Ms && report.LatencyP99Ms <= report.LatencyMaxMs);

        var stats = await sink.WaitUntilAsync(s => s.ActiveConnections == 0, TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(200, stats.Messages);
        Assert.Equal(200, stats.Transactions);
        Assert.Equal(400, stats.RecipientsDelivered);
        Assert.Equal(5, stats.Connections); // four workers, each reusing its session, plus the probe
        Assert.Equal(report.BytesAccepted, stats.Bytes);
        Assert.Equal(200, stats.LatencySamples);
    }

    [Fact]
    public async Task Failure_fractions_give_exact_4xx_and_5xx_counts()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { TempFailFraction = 0.1, PermFailFraction = 0.05 });
        var options = SinkFixture.LoadAt(sink) with { Connections = 4, Messages = 200 };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        AssertOutcomes(report, sink.Stats, accepted: 170, tempFailed: 20, permFailed: 10);
    }

    [Fact]
    public async Task Bytes_and_MB_per_second_count_only_the_messages_whose_content_was_taken()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { TempFailFraction = 0.25, PermFailFraction = 0.25 });
        var options = SinkFixture.LoadAt(sink) with { Connections = 2, Messages = 40, Size = SizeRange.Fixed(5000) };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        // Half the messages were refused at RCPT, so their content never went out.
        Assert.Equal(20, report.Accepted);
        Assert.Equal(20 * 5000, report.BytesAccepted);
        Assert.Equal(report.BytesAccepted, sink.Stats.Bytes);
        Assert.Equal(report.BytesAccepted / report.ElapsedSeconds / 1_000_000, report.MegabytesPerSecond, 6);
    }

    [Fact]
    public async Task Recipient_patterns_fail_the_chosen_recipients()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions
        {
            Rules = [RecipientRule.Parse("^bad=550"), RecipientRule.Parse("^later=451"), RecipientRule.Parse("^odd@.*=554")],
        });
        var options = SinkFixture.LoadAt(sink) with
        {
            Connections = 2,
            Messages = 30,
            To = ["good@local.test", "bad@local.test", "later@local.test"],
        };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        AssertOutcomes(report, sink.Stats, accepted: 10, tempFailed: 10, permFailed: 10);
    }

    [Fact]
    public async Task A_message_with_some_recipients_refused_is_delivered_to_the_rest()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions
        {
            Rules = [RecipientRule.Parse("^bad=550"), RecipientRule.Parse("^later=451")],
            CaptureMessages = true,
        });
        var options = SinkFixture.LoadAt(sink) with
        {
            Messages = 5,
            RecipientsPerMessage = 3,
            To = ["good@local.test", "bad@local.test", "later@local.test"],
        };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(5, report.Accepted);
        Assert.Equal((5, 5, 5), (report.RecipientsAccepted, report.RecipientsTempFailed, report.RecipientsPermFailed));
        Assert.Equal(5, sink.Stats.RecipientsDelivered);
        Assert.All(sink.Messages, m => Assert.Equal(["good@local.test"], m.Recipients));
    }

    [Fact]
    public async Task Messages_arrive_with_the_generator_headers_and_the_requested_size()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { CaptureMessages = true });
        var options = SinkFixture.LoadAt(sink) with { Messages = 3, Size = SizeRange.Fixed(5000), From = "from@x.test", To = ["to@y.test"] };

        await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(3, sink.Messages.Count);
        foreach (var message in sink.Messages)
        {
            Assert.Equal(5000, message.Data.Length);
            Assert.Equal("from@x.test", message.ReversePath);
            var text = System.Text.Encoding.ASCII.GetString(message.Data);
            var headers = text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
            foreach (var name in new[] { "Message-ID: <", "Date: ", "From: <from@x.test>", "To: <to@y.test>", "Subject: ", "X-Loadtest-Sent: " })
                Assert.Contains("\r\n" + name, "\r\n" + headers);
            Assert.EndsWith("\r\n", text);
        }
    }

    [Fact]
    public async Task Duration_bounded_open_loop_run_stops_by_itself_at_the_rate()
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var options = SinkFixture.LoadAt(sink) with { Connections = 2, Duration = TimeSpan.FromMilliseconds(500), Rate = 40 };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        // Slots at 0, 25, 50 ... 475 ms: exactly 20 start within the duration.
        Assert.Equal(20, report.Sent);
        Assert.Equal(20, report.Accepted);
        Assert.InRange(report.ElapsedSeconds, 0.45, 10);
        Assert.Equal(20, sink.Stats.Messages);
    }

    [Fact]
    public async Task Open_loop_that_falls_behind_its_rate_still_stops_at_the_duration()
    {
        // One connection and 200 ms per message: at most 5 msg/s of the 50 asked for.
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { DataReplyDelay = TimeSpan.FromMilliseconds(200) });
        var options = SinkFixture.LoadAt(sink) with { Connections = 1, Duration = TimeSpan.FromSeconds(1), Rate = 50 };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        // The slots that fell behind are not sent after the second (all 50 would take 10 s).
        Assert.InRange(report.Sent, 1, 6);
        Assert.InRange(report.ElapsedSeconds, 1, 2.5);
        Assert.Equal(report.Sent, report.Accepted);
    }

    [Fact]
    public async Task Elapsed_time_ends_with_the_last_message_not_with_the_QUIT_after_it()
    {
        await using var server = new SilentQuitServer();
        var options = new LoadGeneratorOptions { Targets = [server.EndPoint], Messages = 20, Timeout = TimeSpan.FromSeconds(2) };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(20, report.Accepted);
        // The unanswered QUIT costs its 2 s timeout at the end, outside the measured run.
        Assert.InRange(report.ElapsedSeconds, 0, 1.5);
        Assert.InRange(report.MessagesPerSecond, 20 / 1.5, double.MaxValue);
    }

    [Fact]
    public async Task Without_pipelining_the_counts_are_the_same()
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var options = SinkFixture.LoadAt(sink) with { Connections = 3, Messages = 60, Pipelining = false, RecipientsPerMessage = 2 };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(60, report.Accepted);
        Assert.Equal(60, sink.Stats.Messages);
        Assert.Equal(120, sink.Stats.RecipientsDelivered);
    }

    [Fact]
    public async Task Message_over_the_sink_SIZE_is_refused_by_the_client_without_sending()
    {
        await using var sink = await SinkFixture.StartSinkAsync(new SinkOptions { MaxMessageSize = 2000 });
        var options = SinkFixture.LoadAt(sink) with { Messages = 4, Size = SizeRange.Fixed(3000) };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(4, report.PermFailed);
        Assert.Equal(0, report.BytesAccepted);
        Assert.Equal(0, sink.Stats.Transactions);
    }

    [Fact]
    public async Task Target_that_does_not_answer_is_reported_before_the_run()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var dead = (IPEndPoint)listener.LocalEndpoint;
        listener.Stop();
        var generator = new LoadGenerator(new LoadGeneratorOptions { Targets = [dead], Messages = 5 });

        var e = await Assert.ThrowsAsync<TargetUnavailableException>(() => generator.RunAsync(Ct));
        Assert.Contains("does not answer", e.Message);
        Assert.Equal(dead, e.Target);
    }

    [Fact]
    public async Task Targets_are_used_round_robin()
    {
        await using var first = await SinkFixture.StartSinkAsync();
        await using var second = await SinkFixture.StartSinkAsync();
        var options = SinkFixture.LoadAt(first) with { Targets = [first.EndPoint, second.EndPoint], Connections = 4, Messages = 100 };

        var report = await new LoadGenerator(options).RunAsync(Ct);

        Assert.Equal(100, report.Accepted);
        Assert.Equal(100, first.Stats.Messages + second.Stats.Messages);
        Assert.Equal(3, first.Stats.Connections); // two workers and the probe
        Assert.Equal(3, second.Stats.Connections);
    }

    [Fact]
    public async Task Stats_file_holds_the_final_counters_after_stop()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sink-stats-{Guid.NewGuid():N}.json");
        try
        {
            var sink = await SinkFixture.StartSinkAsync(new SinkOptions { StatsFile = path });
            await new LoadGenerator(SinkFixture.LoadAt(sink) with { Messages = 25 }).RunAsync(Ct);
            await sink.StopAsync();

            using var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllBytesAsync(path, Ct));
            Assert.Equal(25, json.RootElement.GetProperty("messages").GetInt64());
            Assert.Equal(25, json.RootElement.GetProperty("recipientsDelivered").GetInt64());
            Assert.Equal(sink.EndPoint.ToString(), json.RootElement.GetProperty("listen").GetString());
            await sink.DisposeAsync();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Maildir_receives_one_file_per_accepted_message()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"sink-maildir-{Guid.NewGuid():N}");
        try
        {
            await using (var sink = await SinkFixture.StartSinkAsync(new SinkOptions { Maildir = dir }))
            {
                await new LoadGenerator(SinkFixture.LoadAt(sink) with { Messages = 12, Connections = 3 }).RunAsync(Ct);
            }
            Assert.Equal(12, Directory.GetFiles(Path.Combine(dir, "new")).Length);
            Assert.Empty(Directory.GetFiles(Path.Combine(dir, "tmp")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
