using static Router.Protocol.Tests.Server.DataReaderHarness;

namespace Router.Protocol.Tests.Server;

/// <summary>DataReader in DATA mode: RFC 5321 s4.1.1.4 end of data and s4.5.2 transparency.</summary>
public sealed class DataReaderTests
{
    [Fact]
    public void Simple_message_is_stored_with_its_last_CRLF()
    {
        var outcome = Feed(Data(), "Subject: hi\r\n\r\nHello\r\n.\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal("Subject: hi\r\n\r\nHello\r\n", outcome.Body);
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal(outcome.Body.Length, outcome.Size);
    }

    [Fact]
    public void Empty_message_ends_at_the_first_dot_line()
    {
        var outcome = Feed(Data(), ".\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal("", outcome.Body);
        Assert.Equal(3, outcome.Consumed);
    }

    [Fact]
    public void Stuffed_dot_is_removed()
    {
        Assert.Equal(".x\r\n", Feed(Data(), "..x\r\n.\r\n").Body);
    }

    [Fact]
    public void Only_the_first_leading_dot_is_removed()
    {
        Assert.Equal("..\r\n", Feed(Data(), "...\r\n.\r\n").Body);
    }

    [Fact]
    public void Double_dot_line_is_a_single_dot_in_the_body()
    {
        Assert.Equal("a\r\n.\r\nb\r\n", Feed(Data(), "a\r\n..\r\nb\r\n.\r\n").Body);
    }

    [Fact]
    public void Unstuffed_leading_dot_with_text_is_dropped_as_RFC_5321_says()
    {
        Assert.Equal("x\r\n", Feed(Data(), ".x\r\n.\r\n").Body);
    }

    [Fact]
    public void Dots_inside_a_line_are_kept()
    {
        Assert.Equal("a.b..c.\r\n", Feed(Data(), "a.b..c.\r\n.\r\n").Body);
    }

    [Fact]
    public void Dot_followed_by_a_space_does_not_end_DATA()
    {
        var outcome = Feed(Data(), ". \r\n");
        Assert.False(outcome.Complete);
        Assert.Equal(" \r\n", outcome.Body);
    }

    [Fact]
    public void Dot_line_without_its_LF_does_not_end_DATA_yet()
    {
        Assert.False(Feed(Data(), "a\r\n.\r").Complete);
    }

    [Fact]
    public void Body_without_terminator_is_not_complete()
    {
        var outcome = Feed(Data(), "line one\r\nline two\r\n");
        Assert.False(outcome.Complete);
        Assert.Equal("line one\r\nline two\r\n", outcome.Body);
    }

    [Fact]
    public void Bytes_after_the_terminator_are_not_consumed()
    {
        const string message = "a\r\n.\r\n";
        var outcome = Feed(Data(), message + "QUIT\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(message.Length, outcome.Consumed);
        Assert.Equal("a\r\n", outcome.Body);
    }

    [Fact]
    public void Pipelined_command_after_the_terminator_is_not_consumed_when_split()
    {
        const string message = "a\r\n.\r\n";
        var outcome = FeedSplit(Data(), message + "MAIL FROM:<a@b.c>\r\n", [message.Length - 1]);
        Assert.True(outcome.Complete);
        Assert.Equal(message.Length, outcome.Consumed);
    }

    [Fact]
    public void Read_after_the_end_consumes_nothing()
    {
        var reader = Data();
        using var body = new BodyBuffer();
        reader.Read(".\r\n"u8, body);
        Assert.Equal(0, reader.Read("more\r\n"u8, body));
        Assert.Equal(0, body.Length);
    }

    [Fact]
    public void Line_of_998_octets_is_accepted()
    {
        var line = new string('x', 998);
        var outcome = Feed(Data(), line + "\r\n.\r\n");
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal(line + "\r\n", outcome.Body);
    }

    [Fact]
    public void Line_of_999_octets_is_refused()
    {
        var outcome = Feed(Data(), new string('x', 999) + "\r\n.\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(DataViolation.LineTooLong, outcome.Violation);
    }

    [Fact]
    public void Line_of_999_octets_is_refused_when_split_across_reads()
    {
        var wire = new string('x', 999) + "\r\n.\r\n";
        Assert.Equal(DataViolation.LineTooLong, FeedSplit(Data(), wire, [1, 500, 998]).Violation);
    }

    [Fact]
    public void Line_length_restarts_after_each_CRLF()
    {
        var line = new string('x', 998) + "\r\n";
        Assert.Equal(DataViolation.None, Feed(Data(), line + line + line + ".\r\n").Violation);
    }

    [Fact]
    public void Stuffed_dot_does_not_count_towards_the_line_length()
    {
        // RFC 5321 s4.5.3.1.6: 1000 octets with CRLF "not counting the leading dot duplicated for transparency".
        var line = "." + new string('x', 997);
        var outcome = Feed(Data(), "." + line + "\r\n.\r\n");
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal(line + "\r\n", outcome.Body);
    }

    [Fact]
    public void Stuffed_line_of_999_octets_after_unstuffing_is_refused()
    {
        Assert.Equal(DataViolation.LineTooLong, Feed(Data(), ".." + new string('x', 998) + "\r\n.\r\n").Violation);
    }

    [Fact]
    public void NUL_is_refused_and_the_end_is_still_found()
    {
        const string message = "a\0b\r\n.\r\n";
        var outcome = Feed(Data(), message + "QUIT\r\n");
        Assert.Equal(DataViolation.Nul, outcome.Violation);
        Assert.True(outcome.Complete);
        Assert.Equal(message.Length, outcome.Consumed);
    }

    [Fact]
    public void Size_at_the_limit_is_accepted()
    {
        var outcome = Feed(Data(maxSize: 10), "12345678\r\n.\r\n");
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal(10, outcome.Size);
    }

    [Fact]
    public void Size_over_the_limit_is_TooLarge_and_nothing_more_is_stored()
    {
        var outcome = Feed(Data(maxSize: 10), "12345678\r\nabc\r\nmore and more\r\n.\r\n");
        Assert.Equal(DataViolation.TooLarge, outcome.Violation);
        Assert.Equal("12345678\r\n", outcome.Body);
    }

    [Fact]
    public void Size_over_the_limit_still_finds_the_end()
    {
        const string message = "12345678\r\nabc\r\nmore and more\r\n.\r\n";
        var outcome = Feed(Data(maxSize: 10), message + "RSET\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(message.Length, outcome.Consumed);
    }

    [Fact]
    public void Size_counts_every_octet_after_unstuffing_even_when_not_stored()
    {
        var outcome = Feed(Data(maxSize: 4), "..abcdef\r\n.\r\n");
        Assert.Equal(DataViolation.TooLarge, outcome.Violation);
        Assert.Equal(".abcdef\r\n".Length, outcome.Size);
    }

    [Fact]
    public void First_violation_wins()
    {
        var outcome = Feed(Data(), "a\0b\nc" + new string('x', 1000) + "\r\n.\r\n");
        Assert.Equal(DataViolation.Nul, outcome.Violation);
    }

    [Fact]
    public void Nothing_is_stored_after_a_violation()
    {
        var outcome = Feed(Data(), "good\r\nbad\nafter\r\n.\r\n");
        Assert.Equal(DataViolation.BareLineEnding, outcome.Violation);
        Assert.Equal("good\r\nbad", outcome.Body);
    }

    [Fact]
    public void Body_grows_past_the_initial_buffer()
    {
        var line = new string('y', 78) + "\r\n";
        var body = string.Concat(Enumerable.Repeat(line, 1000));
        Assert.Equal(body, Feed(Data(), body + ".\r\n").Body);
    }

    private static DataReader Keep(long maxSize = 1 << 20) => Data(maxSize, BareLineEndings.Keep);

    [Fact]
    public void Keep_mode_stores_a_bare_LF_as_it_came()
    {
        var outcome = Feed(Keep(), "a\nb\r\n.\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal("a\nb\r\n", outcome.Body);
    }

    [Fact]
    public void Keep_mode_stores_a_bare_CR_as_it_came()
    {
        var outcome = Feed(Keep(), "a\rb\r\r\n.\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal("a\rb\r\r\n", outcome.Body);
    }

    [Fact]
    public void Keep_mode_ends_at_CRLF_dot_CRLF_and_consumes_no_more()
    {
        const string message = "a\r\nb\r\n.\r\n";
        var outcome = Feed(Keep(), message + "QUIT\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(message.Length, outcome.Consumed);
        Assert.Equal("a\r\nb\r\n", outcome.Body);
    }

    [Theory]
    [InlineData("a\n.\nb\r\n", "a\n.\nb\r\n")]
    [InlineData("a\n.\r\nb\r\n", "a\n.\r\nb\r\n")]
    [InlineData("a\r.\rb\r\n", "a\r.\rb\r\n")]
    [InlineData("a\r.\r\nb\r\n", "a\r.\r\nb\r\n")]
    public void Keep_mode_bare_line_endings_around_a_dot_never_end_DATA(string body, string expected)
    {
        var outcome = Feed(Keep(), body + ".\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(body.Length + 3, outcome.Consumed);
        Assert.Equal(expected, outcome.Body);
    }

    [Fact]
    public void Keep_mode_unstuffs_leading_dots_once()
    {
        Assert.Equal(".x\r\n..\r\n.\r\n", Feed(Keep(), "..x\r\n...\r\n..\r\n.\r\n").Body);
    }

    [Fact]
    public void Keep_mode_drops_a_stuffing_dot_before_a_bare_line_ending()
    {
        // The dot opens a CRLF line, so it is stuffing; the bare LF or CR after it is text.
        Assert.Equal("a\r\n\nb\r\n", Feed(Keep(), "a\r\n.\nb\r\n.\r\n").Body);
        Assert.Equal("a\r\n\rb\r\n", Feed(Keep(), "a\r\n.\rb\r\n.\r\n").Body);
    }

    [Fact]
    public void Keep_mode_keeps_NUL_and_lines_over_998_octets()
    {
        var body = "a\0b\r\n" + new string('x', 2000) + "\r\n";
        var outcome = Feed(Keep(), body + ".\r\n");
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal(body, outcome.Body);
        Assert.Equal(body.Length, outcome.Size);
    }

    [Fact]
    public void Keep_mode_still_applies_the_size_limit()
    {
        var outcome = Feed(Keep(maxSize: 10), "12345678\r\nabc\nmore\r\n.\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(DataViolation.TooLarge, outcome.Violation);
        Assert.Equal("12345678\r\n", outcome.Body);
    }
}
