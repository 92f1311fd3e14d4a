using System.Text;
using Router.Protocol.Client;

namespace Router.Protocol.Tests.Client;

public sealed class DotStufferTests
{
    private static string Encode(string message) => Encoding.ASCII.GetString(DotStuffer.EncodeAll(Encoding.ASCII.GetBytes(message)));

    [Fact]
    public void Leading_dot_is_doubled_and_inner_dots_are_not()
    {
        Assert.Equal("..hidden\r\na.b\r\n...\r\n.\r\n", Encode(".hidden\r\na.b\r\n..\r\n"));
    }

    [Fact]
    public void Lone_dot_line_in_the_message_cannot_end_DATA()
    {
        Assert.Equal("a\r\n..\r\nb\r\n.\r\n", Encode("a\r\n.\r\nb\r\n"));
    }

    [Fact]
    public void Bare_LF_becomes_CRLF()
    {
        Assert.Equal("a\r\nb\r\n.\r\n", Encode("a\nb\n"));
    }

    [Fact]
    public void Bare_CR_becomes_CRLF()
    {
        Assert.Equal("a\r\nb\r\n\r\n.\r\n", Encode("a\rb\r\r"));
    }

    [Fact]
    public void Smuggling_sequence_with_bare_LF_dot_is_neutralised()
    {
        // "\n.\n" would end DATA at a lenient receiver; normalised and stuffed it is a harmless ".." line.
        Assert.Equal("x\r\n..\r\nMAIL FROM:<a@b>\r\n.\r\n", Encode("x\n.\nMAIL FROM:<a@b>\r\n"));
    }

    [Fact]
    public void Missing_final_line_end_is_added()
    {
        Assert.Equal("no newline\r\n.\r\n", Encode("no newline"));
    }

    [Fact]
    public void Empty_message_is_just_the_terminator()
    {
        Assert.Equal(".\r\n", Encode(""));
    }

    [Fact]
    public void Encoding_in_chunks_matches_encoding_at_once_for_every_split()
    {
        var message = Encoding.ASCII.GetBytes(".a\r\n.b\rc\n\r.\r\r\n..d\n.");
        var whole = DotStuffer.EncodeAll(message);
        for (var split = 0; split <= message.Length; split++)
        {
            var stuffer = new DotStuffer();
            var output = new byte[DotStuffer.MaxEncodedLength(message.Length) + DotStuffer.MaxTrailerLength + 2];
            var n = stuffer.Encode(message.AsSpan(0, split), output);
            n += stuffer.Encode(message.AsSpan(split), output.AsSpan(n));
            n += stuffer.Complete(output.AsSpan(n));
            Assert.Equal(whole, output.AsSpan(0, n).ToArray());
        }
    }

    [Fact]
    public void Random_messages_encode_as_the_line_by_line_definition_whole_and_in_chunks()
    {
        // Mostly long clean lines (the vectorised path) with dots, bare CRs and bare LFs sprinkled in.
        var random = new Random(5321);
        for (var round = 0; round < 3000; round++)
        {
            var message = new StringBuilder();
            var lines = random.Next(0, 12);
            for (var l = 0; l < lines; l++)
            {
                if (random.Next(6) == 0) message.Append('.');
                message.Append(new string('x', random.Next(0, 90)));
                if (random.Next(8) == 0) message.Append(".\r\n\n."[random.Next(5)]);
                message.Append(random.Next(10) switch { 0 => "\n", 1 => "\r", _ => "\r\n" });
            }
            if (random.Next(3) == 0) message.Append(new string('y', random.Next(1, 40)));
            var bytes = Encoding.ASCII.GetBytes(message.ToString());
            var expected = Definition(message.ToString());

            Assert.Equal(expected, Encoding.ASCII.GetString(DotStuffer.EncodeAll(bytes)));
            var stuffer = new DotStuffer();
            var output = new byte[DotStuffer.MaxEncodedLength(bytes.Length) + DotStuffer.MaxTrailerLength + 8];
            var n = 0;
            for (var at = 0; at < bytes.Length;)
            {
                var size = Math.Min(random.Next(1, 100), bytes.Length - at);
                n += stuffer.Encode(bytes.AsSpan(at, size), output.AsSpan(n));
                at += size;
            }
            n += stuffer.Complete(output.AsSpan(n));
            Assert.Equal(expected, Encoding.ASCII.GetString(output, 0, n));
        }
    }

    /// <summary>RFC 5321 s4.5.2 on lines: CRLF, a bare CR and a bare LF each end a line; a leading dot is doubled; ".CRLF" ends.</summary>
    private static string Definition(string message)
    {
        var lines = message.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Split('\n').ToList();
        if (lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return string.Concat(lines.Select(l => (l.StartsWith('.') ? "." + l : l) + "\r\n")) + ".\r\n";
    }
}
