using static Router.Protocol.Tests.Server.DataReaderHarness;

namespace Router.Protocol.Tests.Server;

/// <summary>
/// SMTP smuggling (CVE-2023-51764/51765/51766): an end-of-data sequence other than CRLF "." CRLF
/// that some other server would honour must never end DATA here, whatever the mode.
/// </summary>
public sealed class SmugglingTests
{
    private const string Before = "From: a@b.c\r\nSubject: hi\r\n\r\nfirst";
    private const string Smuggled = "MAIL FROM:<evil@x.y>\r\nRCPT TO:<victim@b.c>\r\nDATA\r\nFrom: ceo@b.c\r\n\r\nwire money\r\n";
    private const string RealEnd = "\r\n.\r\n";

    public static TheoryData<string> Sequences => ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r", "\r\n.\r\r\n"];

    private static string Wire(string sequence) => Before + sequence + Smuggled + "last" + RealEnd;

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Smuggled_terminator_does_not_end_DATA(string sequence)
    {
        var outcome = Feed(Data(), Before + sequence + Smuggled);
        Assert.False(outcome.Complete);
        Assert.Equal((Before + sequence + Smuggled).Length, outcome.Consumed);
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Smuggled_terminator_is_a_bare_line_ending(string sequence)
    {
        Assert.Equal(DataViolation.BareLineEnding, Feed(Data(), Wire(sequence)).Violation);
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Real_terminator_after_a_smuggled_one_ends_DATA(string sequence)
    {
        var wire = Wire(sequence);
        var outcome = Feed(Data(), wire + "QUIT\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(wire.Length, outcome.Consumed);
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Smuggled_terminator_split_byte_by_byte_does_not_end_DATA(string sequence)
    {
        var wire = Wire(sequence);
        var outcome = FeedBytewise(Data(), wire + "QUIT\r\n");
        Assert.Equal(wire.Length, outcome.Consumed);
        Assert.Equal(DataViolation.BareLineEnding, outcome.Violation);
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Smuggled_terminator_does_not_end_DATA_in_normalize_mode(string sequence)
    {
        var wire = Wire(sequence);
        Assert.False(Feed(Data(bareLineEndings: BareLineEndings.Normalize), Before + sequence + Smuggled).Complete);
        var outcome = Feed(Data(bareLineEndings: BareLineEndings.Normalize), wire + "QUIT\r\n");
        Assert.True(outcome.Complete);
        Assert.Equal(wire.Length, outcome.Consumed);
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Normalize_mode_stores_only_CRLF_line_endings(string sequence)
    {
        var outcome = Feed(Data(bareLineEndings: BareLineEndings.Normalize), Wire(sequence));
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.True(HasOnlyCrlf(outcome.Body), outcome.Body);
        Assert.StartsWith(Before, outcome.Body, StringComparison.Ordinal);
        Assert.EndsWith(Smuggled + "last\r\n", outcome.Body, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_mode_turns_bare_LF_into_CRLF()
    {
        Assert.Equal("a\r\nb\r\n", Feed(Data(bareLineEndings: BareLineEndings.Normalize), "a\nb\r\n.\r\n").Body);
    }

    [Fact]
    public void Normalize_mode_turns_bare_CR_into_CRLF()
    {
        Assert.Equal("a\r\nb\r\n", Feed(Data(bareLineEndings: BareLineEndings.Normalize), "a\rb\r\n.\r\n").Body);
    }

    [Fact]
    public void Normalize_mode_keeps_a_dot_after_a_bare_LF_as_text()
    {
        // The bare LF becomes CRLF but does not start a line, so "\n.\n" is plain text, not an end.
        Assert.Equal("a\r\n.\r\nb\r\n", Feed(Data(bareLineEndings: BareLineEndings.Normalize), "a\n.\nb\r\n.\r\n").Body);
    }

    [Fact]
    public void Bare_LF_never_ends_DATA()
    {
        Assert.False(Feed(Data(), "a\n.\n").Complete);
    }

    [Fact]
    public void Bare_CR_never_ends_DATA()
    {
        Assert.False(Feed(Data(), "a\r.\r").Complete);
    }

    [Fact]
    public void Bare_CR_before_CRLF_is_a_bare_line_ending()
    {
        Assert.Equal(DataViolation.BareLineEnding, Feed(Data(), "a\r\r\n.\r\n").Violation);
    }

    [Fact]
    public void Bare_LF_at_the_start_of_the_body_is_a_bare_line_ending()
    {
        Assert.Equal(DataViolation.BareLineEnding, Feed(Data(), "\n.\r\n").Violation);
    }
}
