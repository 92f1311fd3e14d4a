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
}
