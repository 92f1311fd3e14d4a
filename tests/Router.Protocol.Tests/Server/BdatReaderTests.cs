using static Router.Protocol.Tests.Server.DataReaderHarness;

namespace Router.Protocol.Tests.Server;

/// <summary>DataReader in BDAT mode (RFC 3030): chunks are taken as they are, no dot transparency, no terminator.</summary>
public sealed class BdatReaderTests
{
    [Fact]
    public void Dots_are_not_unstuffed()
    {
        Assert.Equal("..x\r\n.\r\n", Feed(Chunks(), "..x\r\n.\r\n").Body);
    }

    [Fact]
    public void Dot_line_does_not_end_the_body()
    {
        var outcome = Feed(Chunks(), "a\r\n.\r\nb\r\n");
        Assert.False(outcome.Complete);
        Assert.Equal(9, outcome.Consumed);
    }

    [Fact]
    public void CRLF_split_across_chunks_is_fine()
    {
        var outcome = FeedSplit(Chunks(), "line\r\nnext\r\n", [5]);
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal("line\r\nnext\r\n", outcome.Body);
    }

    [Fact]
    public void Bare_LF_is_flagged()
    {
        Assert.Equal(DataViolation.BareLineEnding, Feed(Chunks(), "a\nb\r\n").Violation);
    }

    [Fact]
    public void Bare_CR_inside_a_chunk_is_flagged()
    {
        Assert.Equal(DataViolation.BareLineEnding, Feed(Chunks(), "a\rb\r\n").Violation);
    }

    [Fact]
    public void Trailing_bare_CR_is_flagged_by_CompleteChunks()
    {
        var reader = Chunks();
        using var body = new BodyBuffer();
        reader.Read("a\r\nb\r"u8, body);
        Assert.Equal(DataViolation.None, reader.Violation);
        reader.CompleteChunks(body);
        Assert.Equal(DataViolation.BareLineEnding, reader.Violation);
        Assert.True(reader.IsComplete);
    }

    [Fact]
    public void CompleteChunks_after_CRLF_leaves_no_violation()
    {
        var (reader, body) = ReadLast(Chunks(), "a\r\n");
        Assert.Equal(DataViolation.None, reader.Violation);
        Assert.True(reader.IsComplete);
        Assert.Equal("a\r\n", body);
    }

    [Fact]
    public void Body_without_final_line_ending_is_accepted()
    {
        // RFC 3030 leaves the message as sent; a missing final CRLF is not a bare line ending.
        var (reader, body) = ReadLast(Chunks(), "no newline");
        Assert.Equal(DataViolation.None, reader.Violation);
        Assert.Equal("no newline", body);
    }

    [Fact]
    public void Trailing_bare_CR_becomes_CRLF_in_normalize_mode()
    {
        var (reader, body) = ReadLast(Chunks(bareLineEndings: BareLineEndings.Normalize), "a\r");
        Assert.Equal(DataViolation.None, reader.Violation);
        Assert.Equal("a\r\n", body);
    }

    [Fact]
    public void Trailing_bare_CR_is_kept_in_keep_mode()
    {
        var (reader, body) = ReadLast(Chunks(bareLineEndings: BareLineEndings.Keep), "a\r");
        Assert.Equal(DataViolation.None, reader.Violation);
        Assert.Equal("a\r", body);
    }

    [Fact]
    public void Size_limit_applies_across_chunks()
    {
        var outcome = FeedSplit(Chunks(maxSize: 8), "1234\r\n1234\r\n", [6]);
        Assert.Equal(DataViolation.TooLarge, outcome.Violation);
        Assert.Equal("1234\r\n", outcome.Body);
        Assert.Equal(12, outcome.Size);
    }

    [Fact]
    public void Line_length_limit_applies_across_chunks()
    {
        var wire = new string('x', 999) + "\r\n";
        Assert.Equal(DataViolation.LineTooLong, FeedSplit(Chunks(), wire, [400, 800]).Violation);
    }

    [Fact]
    public void Binary_looking_bytes_other_than_NUL_are_kept()
    {
        var outcome = Feed(Chunks(), "\x01\x7f\xff\r\n");
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal("\x01\x7f\xff\r\n", outcome.Body);
    }

    /// <summary>Reads <paramref name="wire"/> as the whole of a BDAT LAST body and completes it; returns the reader and what it stored.</summary>
    private static (DataReader Reader, string Body) ReadLast(DataReader reader, string wire)
    {
        using var body = new BodyBuffer();
        reader.Read(Bytes.Ascii(wire), body);
        reader.CompleteChunks(body);
        return (reader, Bytes.Text(body.Span));
    }
}
