using System.Text;

namespace Router.Protocol.Tests.Server;

/// <summary>SmtpReply wire form (RFC 5321 s4.2.1 multi-line replies, RFC 2034 enhanced codes).</summary>
public sealed class SmtpReplyTests
{
    private static string Wire(SmtpReply reply) => Encoding.UTF8.GetString(reply.Bytes.Span);

    [Fact]
    public void Single_line_reply_has_code_enhanced_code_and_text()
    {
        Assert.Equal("250 2.1.0 Sender OK\r\n", Wire(Replies.SenderOk));
    }

    [Fact]
    public void Reply_without_enhanced_code_has_code_and_text()
    {
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>\r\n", Wire(Replies.StartData));
    }

    [Fact]
    public void Multi_line_reply_uses_hyphen_then_space()
    {
        var reply = new SmtpReply(250, null, "mx.example", "PIPELINING", "8BITMIME");
        Assert.Equal("250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n", Wire(reply));
    }

    [Fact]
    public void Enhanced_code_is_on_every_line()
    {
        Assert.Equal("214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\r\n214 2.0.0 See RFC 5321\r\n", Wire(Replies.Help));
    }

    [Theory]
    [InlineData("a\r\n250 fake")]
    [InlineData("a\n250 fake")]
    [InlineData("a\r250 fake")]
    [InlineData("a\0b")]
    public void CR_LF_and_controls_in_text_cannot_split_a_reply(string text)
    {
        var wire = Wire(new SmtpReply(550, "5.1.1", text));
        Assert.EndsWith("\r\n", wire, StringComparison.Ordinal);
        Assert.Equal(1, wire.Count(c => c == '\n'));
        Assert.Equal(1, wire.Count(c => c == '\r'));
        Assert.DoesNotContain('\0', wire);
        Assert.StartsWith("550 5.1.1 a", wire, StringComparison.Ordinal);
    }

    [Fact]
    public void No_lines_means_one_empty_line()
    {
        Assert.Equal("221 2.0.0 \r\n", Wire(new SmtpReply(221, "2.0.0")));
    }

    [Theory]
    [InlineData(199)]
    [InlineData(600)]
    [InlineData(0)]
    public void Code_outside_2xx_to_5xx_is_a_bug(int code)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmtpReply(code, null, "x"));
    }

    [Theory]
    [InlineData(250, true, false, false)]
    [InlineData(354, true, false, false)]
    [InlineData(421, false, true, false)]
    [InlineData(550, false, false, true)]
    public void Code_class_is_reported(int code, bool positive, bool transient, bool permanent)
    {
        var reply = new SmtpReply(code, null, "x");
        Assert.Equal((positive, transient, permanent), (reply.IsPositive, reply.IsTransient, reply.IsPermanent));
    }

    [Fact]
    public void ToString_and_Text_join_the_lines()
    {
        var reply = new SmtpReply(250, "2.0.0", "one", "two");
        Assert.Equal("one two", reply.Text);
        Assert.Equal("250 2.0.0 one two", reply.ToString());
    }

    [Fact]
    public void Every_fixed_reply_is_well_formed()
    {
        foreach (var field in typeof(Replies).GetFields())
        {
            var reply = (SmtpReply)field.GetValue(null)!;
            var wire = Wire(reply);
            Assert.EndsWith("\r\n", wire, StringComparison.Ordinal);
            Assert.StartsWith(reply.Code.ToString(System.Globalization.CultureInfo.InvariantCulture), wire, StringComparison.Ordinal);
            if (reply.Enhanced is not null)
            {
                // RFC 3463: the enhanced class digit matches the reply class.
                Assert.Equal(reply.Code / 100, reply.Enhanced[0] - '0');
            }
        }
    }
}
