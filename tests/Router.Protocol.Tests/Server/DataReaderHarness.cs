namespace Router.Protocol.Tests.Server;

/// <summary>Feeds wire text to a <see cref="DataReader"/> in chosen chunks, as a socket would.</summary>
internal static class DataReaderHarness
{
    public sealed record Outcome(bool Complete, int Consumed, string Body, DataViolation Violation, long Size);

    public static DataReader Data(long maxSize = 1 << 20, BareLineEndings bareLineEndings = BareLineEndings.Reject) => new(maxSize, dotTransparency: true, bareLineEndings);

    public static DataReader Chunks(long maxSize = 1 << 20, BareLineEndings bareLineEndings = BareLineEndings.Reject) => new(maxSize, dotTransparency: false, bareLineEndings);

    /// <summary>Feeds the whole input in one call.</summary>
    public static Outcome Feed(DataReader reader, string wire) => FeedSplit(reader, wire, []);

    /// <summary>Feeds the input cut at the given offsets; stops feeding once the reader is complete.</summary>
    public static Outcome FeedSplit(DataReader reader, string wire, IReadOnlyList<int> cuts)
    {
        var bytes = Bytes.Ascii(wire);
        using var body = new BodyBuffer(16);
        var consumed = 0;
        var start = 0;
        foreach (var end in cuts.Append(bytes.Length))
        {
            if (reader.IsComplete) break;
            var chunk = bytes.AsSpan(start, end - start);
            var used = reader.Read(chunk, body);
            Assert.True(used == chunk.Length || reader.IsComplete, "a reader that is not complete must consume everything");
            consumed += used;
            start = end;
        }
        return new Outcome(reader.IsComplete, consumed, Bytes.Text(body.Span), reader.Violation, reader.Size);
    }

    /// <summary>Feeds one byte per call.</summary>
    public static Outcome FeedBytewise(DataReader reader, string wire) =>
        FeedSplit(reader, wire, Enumerable.Range(1, Math.Max(0, wire.Length - 1)).ToArray());

    /// <summary>True when every CR in the text is followed by LF and every LF is preceded by CR.</summary>
    public static bool HasOnlyCrlf(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\r' && (i + 1 >= s.Length || s[i + 1] != '\n')) return false;
            if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
        }
        return true;
    }
}
