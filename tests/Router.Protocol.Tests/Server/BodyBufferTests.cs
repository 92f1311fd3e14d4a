namespace Router.Protocol.Tests.Server;

public sealed class BodyBufferTests
{
    [Fact]
    public void Writes_past_the_initial_capacity_keep_every_byte()
    {
        using var buffer = new BodyBuffer(16);
        var data = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        foreach (var chunk in data.Chunk(7)) buffer.Write(chunk);
        Assert.Equal(data, buffer.Span.ToArray());
    }

    [Fact]
    public void Clear_empties_the_buffer_for_reuse()
    {
        using var buffer = new BodyBuffer();
        buffer.Write("abc"u8);
        buffer.Clear();
        buffer.Write("de"u8);
        Assert.Equal("de"u8.ToArray(), buffer.Memory.ToArray());
    }

    [Fact]
    public void GetSpan_and_Advance_append_like_an_IBufferWriter()
    {
        using var buffer = new BodyBuffer(4);
        buffer.Write("ab"u8);
        var span = buffer.GetSpan(100);
        Assert.True(span.Length >= 100);
        "cde"u8.CopyTo(span);
        buffer.Advance(3);
        Assert.Equal("abcde"u8.ToArray(), buffer.Span.ToArray());
    }

    [Fact]
    public void Dispose_twice_is_harmless()
    {
        var buffer = new BodyBuffer();
        buffer.Write("x"u8);
        buffer.Dispose();
        buffer.Dispose();
        Assert.Equal(0, buffer.Length);
    }
}
