namespace Router.Protocol.Tests.Server;

/// <summary>CommandParser.TryParseBdat: <c>BDAT chunk-size [LAST]</c> (RFC 3030 s2).</summary>
public sealed class BdatCommandTests
{
    [Fact]
    public void Size_alone_is_a_middle_chunk()
    {
        Assert.True(CommandParser.TryParseBdat(Bytes.Ascii("100"), out var size, out var last));
        Assert.Equal(100, size);
        Assert.False(last);
    }

    [Fact]
    public void Zero_LAST_ends_the_message()
    {
        Assert.True(CommandParser.TryParseBdat(Bytes.Ascii("0 LAST"), out var size, out var last));
        Assert.Equal(0, size);
        Assert.True(last);
    }

    [Fact]
    public void LAST_is_case_insensitive()
    {
        Assert.True(CommandParser.TryParseBdat(Bytes.Ascii("5 last"), out _, out var last));
        Assert.True(last);
    }

    [Fact]
    public void Large_chunk_size_is_parsed()
    {
        Assert.True(CommandParser.TryParseBdat(Bytes.Ascii("10000000000"), out var size, out _));
        Assert.Equal(10_000_000_000, size);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("10x")]
    [InlineData(" 10")]
    [InlineData("99999999999999999999")]
    public void Size_that_is_not_a_number_is_refused(string argument)
    {
        Assert.False(CommandParser.TryParseBdat(Bytes.Ascii(argument), out _, out _));
    }

    [Theory]
    [InlineData("10 FOO")]
    [InlineData("10 LASTX")]
    [InlineData("10 LAST x")]
    [InlineData("10 ")]
    public void Anything_but_LAST_after_the_size_is_refused(string argument)
    {
        Assert.False(CommandParser.TryParseBdat(Bytes.Ascii(argument), out _, out _));
    }
}
