using System.Buffers;
using System.Text;
using Router.Protocol.Client;

namespace Router.Protocol.Tests.Client;

public sealed class SmtpReplyParserTests
{
    private static ReplyParseStatus Parse(string wire, out SmtpReply? reply, out string rest, int maxLine = 512, int maxLines = 10)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire));
        var status = SmtpReplyParser.TryParse(ref buffer, maxLine, maxLines, out reply, out _);
        rest = Encoding.UTF8.GetString(buffer.ToArray());
        return status;
    }

    [Fact]
    public void Single_line_reply_with_enhanced_code()
    {
        Assert.Equal(ReplyParseStatus.Complete, Parse("250 2.1.0 Sender ok\r\n", out var reply, out var rest));
        Assert.Equal(250, reply!.Code);
        Assert.Equal("2.1.0", reply.Enhanced);
        Assert.Equal(["Sender ok"], reply.Lines);
        Assert.Equal("", rest);
    }

    [Fact]
    public void Multi_line_reply_collects_every_line_and_lifts_the_enhanced_code_from_each()
    {
        var wire = "550-5.7.1 Rejected\r\n550-5.7.1 see policy\r\n550 5.7.1 bye\r\n";
        Assert.Equal(ReplyParseStatus.Complete, Parse(wire, out var reply, out _));
        Assert.Equal(550, reply!.Code);
        Assert.Equal("5.7.1", reply.Enhanced);
        Assert.Equal(["Rejected", "see policy", "bye"], reply.Lines);
    }

    [Fact]
    public void Bare_code_line_ends_a_reply()
    {
        Assert.Equal(ReplyParseStatus.Complete, Parse("250-mx.test\r\n250\r\n", out var reply, out _));
        Assert.Equal(["mx.test", ""], reply!.Lines);
        Assert.Null(reply.Enhanced);
    }

    [Fact]
    public void Reply_without_its_last_line_is_incomplete_and_nothing_is_consumed()
    {
        Assert.Equal(ReplyParseStatus.Incomplete, Parse("250-mx.test\r\n250 PIPEL", out var reply, out var rest));
        Assert.Null(reply);
        Assert.Equal("250-mx.test\r\n250 PIPEL", rest);
    }

    [Fact]
    public void Only_the_first_of_two_pipelined_replies_is_consumed()
    {
        Assert.Equal(ReplyParseStatus.Complete, Parse("250 ok\r\n550 5.1.1 no such user\r\n", out var reply, out var rest));
        Assert.Equal(250, reply!.Code);
        Assert.Equal("550 5.1.1 no such user\r\n", rest);
    }

    [Fact]
    public void Enhanced_code_of_another_class_is_left_in_the_text()
    {
        Assert.Equal(ReplyParseStatus.Complete, Parse("250 5.0.0 odd\r\n", out var reply, out _));
        Assert.Null(reply!.Enhanced);
        Assert.Equal(["5.0.0 odd"], reply.Lines);
    }

    [Fact]
    public void Bare_LF_line_end_is_tolerated_in_replies()
    {
        Assert.Equal(ReplyParseStatus.Complete, Parse("221 2.0.0 bye\n", out var reply, out _));
        Assert.Equal(221, reply!.Code);
        Assert.Equal(["bye"], reply.Lines);
    }

    [Theory]
    [InlineData("hello\r\n")]
    [InlineData("2x0 ok\r\n")]
    [InlineData("150 ok\r\n")]
    [InlineData("250_ok\r\n")]
    [InlineData("25\r\n")]
    public void Line_without_a_valid_code_is_malformed(string wire)
    {
        Assert.Equal(ReplyParseStatus.Malformed, Parse(wire, out _, out _));
    }

    [Fact]
    public void Lines_with_different_codes_are_malformed()
    {
        Assert.Equal(ReplyParseStatus.Malformed, Parse("250-one\r\n251 two\r\n", out _, out _));
    }

    [Fact]
    public void Overlong_line_is_malformed_even_before_its_line_end_arrives()
    {
        Assert.Equal(ReplyParseStatus.Malformed, Parse("250 " + new string('x', 600), out _, out _, maxLine: 512));
    }

    [Fact]
    public void Too_many_lines_is_malformed()
    {
        var wire = string.Concat(Enumerable.Repeat("250-x\r\n", 10)) + "250 end\r\n";
        Assert.Equal(ReplyParseStatus.Malformed, Parse(wire, out _, out _, maxLines: 10));
    }

    [Fact]
    public void Reply_split_across_buffer_segments_parses()
    {
        var bytes = Encoding.ASCII.GetBytes("250-mx.test greets you\r\n250 SIZE 1000\r\n");
        var first = new Segment(bytes.AsMemory(0, 7));
        var last = first.Append(bytes.AsMemory(7, 20)).Append(bytes.AsMemory(27));
        var buffer = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.Equal(ReplyParseStatus.Complete, SmtpReplyParser.TryParse(ref buffer, 512, 10, out var reply, out _));
        Assert.Equal(["mx.test greets you", "SIZE 1000"], reply!.Lines);
        Assert.True(buffer.IsEmpty);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
