using System.Text;
using Router.LoadTest;
using Router.LoadTest.Generator;
using Router.LoadTest.Sink;
using Router.Protocol;

namespace Router.EndToEnd.Tests.LoadTest;

/// <summary>The loadtest building blocks without sockets: DATA unstuffing, the failure schedule, sizes, the histogram.</summary>
public sealed class LoadTestUnitTests
{
    private static (string Message, int Consumed, bool Done) Unstuff(string wire)
    {
        using var output = new BodyBuffer();
        var reader = SinkSession.NewDataReader();
        var consumed = reader.Read(Encoding.ASCII.GetBytes(wire), output);
        return (Encoding.ASCII.GetString(output.Span), consumed, reader.IsComplete);
    }

    [Fact]
    public void DATA_ends_at_CRLF_dot_CRLF_and_not_before()
    {
        var (message, consumed, done) = Unstuff("a\r\nb\r\n.\r\nQUIT\r\n");
        Assert.True(done);
        Assert.Equal("a\r\nb\r\n", message);
        Assert.Equal("a\r\nb\r\n.\r\n".Length, consumed);
    }

    [Theory]
    [InlineData("a\n.\nb\r\n", "a\n.\nb\r\n")]
    [InlineData("a\r\n.\nb\r\n", "a\r\n\nb\r\n")] // the dot opens a CRLF line, so it is stuffing
    [InlineData("a\n.\r\nb\r\n", "a\n.\r\nb\r\n")]
    [InlineData("a\r.\rb\r\n", "a\r.\rb\r\n")]
    public void Bare_line_ends_around_a_dot_never_end_DATA(string body, string expected)
    {
        var (message, _, done) = Unstuff(body + ".\r\n");
        Assert.True(done);
        Assert.Equal(expected, message);
    }

    [Fact]
    public void Leading_dots_are_unstuffed_once()
    {
        Assert.Equal(".x\r\n..\r\n.\r\n", Unstuff("..x\r\n...\r\n..\r\n.\r\n").Message);
    }

    [Fact]
    public void Empty_message_is_just_the_terminator()
    {
        var (message, consumed, done) = Unstuff(".\r\n");
        Assert.True(done);
        Assert.Equal("", message);
        Assert.Equal(3, consumed);
    }

    [Fact]
    public void Unstuffing_in_pieces_matches_unstuffing_at_once_for_every_split()
    {
        var wire = Encoding.ASCII.GetBytes("..a\r\nb\r.\r\n.\rc\n.\r\n\r\n..\r\n.\r\n");
        var whole = Unstuff(Encoding.ASCII.GetString(wire)).Message;
        for (var split = 0; split <= wire.Length; split++)
        {
            var reader = SinkSession.NewDataReader();
            using var output = new BodyBuffer();
            var first = reader.Read(wire.AsSpan(0, split), output);
            if (!reader.IsComplete) reader.Read(wire.AsSpan(first), output);
            Assert.True(reader.IsComplete, $"split {split}");
            Assert.Equal(whole, Encoding.ASCII.GetString(output.Span));
        }
    }

    [Fact]
    public void Failure_schedule_is_exact_over_each_period_and_close_over_any_prefix()
    {
        var schedule = new FailureSchedule(tempFail: 0.1, permFail: 0.05);
        int temp = 0, perm = 0;
        for (var n = 1; n <= 1000; n++)
        {
            switch (schedule.Next())
            {
                case 451: temp++; break;
                case 550: perm++; break;
            }
            Assert.InRange(temp, n / 10 - 1, n / 10 + 1);
            Assert.InRange(perm, n / 20 - 1, n / 20 + 1);
            if (n % 20 == 0) Assert.Equal((n / 10, n / 20), (temp, perm));
        }
    }

    [Fact]
    public void Failure_schedule_without_fractions_accepts_everyone()
    {
        var schedule = new FailureSchedule(0, 0);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.Equal(250, schedule.Next()));
    }

    [Theory]
    [InlineData("^bad=550", "bad@x.test", 550)]
    [InlineData("a=b@x\\.test=451", "a=b@x.test", 451)]
    public void Recipient_rule_splits_at_the_last_equals_sign(string text, string address, int code)
    {
        var rule = RecipientRule.Parse(text);
        Assert.Matches(rule.Pattern, address);
        Assert.Equal(code, rule.Code);
    }

    [Theory]
    [InlineData("^bad")]
    [InlineData("^bad=250")]
    [InlineData("^bad=abc")]
    public void Recipient_rule_without_a_failure_code_is_refused(string text)
    {
        Assert.Throws<FormatException>(() => RecipientRule.Parse(text));
    }

    [Theory]
    [InlineData("4096", 4096, 4096)]
    [InlineData("4k", 4096, 4096)]
    [InlineData("1k-100k", 1024, 102400)]
    [InlineData("2m", 2097152, 2097152)]
    public void Sizes_parse(string text, int min, int max)
    {
        Assert.Equal(new SizeRange(min, max), SizeRange.Parse(text));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("10-5")]
    [InlineData("big")]
    public void Bad_sizes_are_refused(string text)
    {
        Assert.Throws<FormatException>(() => SizeRange.Parse(text));
    }

    [Fact]
    public void Messages_have_exactly_the_requested_size_and_clean_line_ends()
    {
        var factory = new MessageFactory("run1");
        foreach (var size in new[] { 1, 300, 301, 302, 377, 378, 379, 380, 381, 4096, 100_000 })
        {
            var message = factory.Create(7, "a@x.test", ["b@y.test"], size).ToArray();
            Assert.Equal(Math.Max(size, message.Length), message.Length);
            if (size > 400) Assert.Equal(size, message.Length);
            for (var i = 0; i < message.Length; i++)
            {
                if (message[i] == (byte)'\r') Assert.Equal((byte)'\n', message[i + 1]);
                if (message[i] == (byte)'\n') Assert.Equal((byte)'\r', message[i - 1]);
            }
            Assert.Equal("\r\n"u8.ToArray(), message[^2..]);
            Assert.NotNull(SinkSession.SentAt(message));
        }
    }

    [Fact]
    public void Histogram_percentiles_are_within_its_precision()
    {
        var histogram = new LatencyHistogram();
        for (var us = 1; us <= 100_000; us++) histogram.Record(us);
        Assert.Equal(100_000, histogram.Count);
        Assert.InRange(histogram.PercentileMilliseconds(0.50), 49.9, 50.1);
        Assert.InRange(histogram.PercentileMilliseconds(0.99), 98.8, 99.2);
        Assert.Equal(100, histogram.MaxMilliseconds);
    }
}
