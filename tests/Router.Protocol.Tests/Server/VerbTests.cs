namespace Router.Protocol.Tests.Server;

/// <summary>CommandParser.ParseVerb: RFC 5321 s4.1.1 verbs, matched case-insensitively on the bytes.</summary>
public sealed class VerbTests
{
    private static SmtpVerb Verb(string line) => CommandParser.ParseVerb(Bytes.Ascii(line), out _);

    [Theory]
    [InlineData("HELO x.y", SmtpVerb.Helo)]
    [InlineData("EHLO x.y", SmtpVerb.Ehlo)]
    [InlineData("MAIL FROM:<a@b.c>", SmtpVerb.Mail)]
    [InlineData("RCPT TO:<a@b.c>", SmtpVerb.Rcpt)]
    [InlineData("DATA", SmtpVerb.Data)]
    [InlineData("BDAT 10 LAST", SmtpVerb.Bdat)]
    [InlineData("RSET", SmtpVerb.Rset)]
    [InlineData("NOOP", SmtpVerb.Noop)]
    [InlineData("QUIT", SmtpVerb.Quit)]
    [InlineData("HELP", SmtpVerb.Help)]
    [InlineData("VRFY postmaster", SmtpVerb.Vrfy)]
    [InlineData("EXPN staff", SmtpVerb.Expn)]
    [InlineData("VERB", SmtpVerb.Verb)]
    [InlineData("AUTH PLAIN", SmtpVerb.Auth)]
    [InlineData("STARTTLS", SmtpVerb.StartTls)]
    public void Every_known_verb_is_recognised(string line, SmtpVerb expected)
    {
        Assert.Equal(expected, Verb(line));
    }

    [Theory]
    [InlineData("ehlo x.y", SmtpVerb.Ehlo)]
    [InlineData("Mail FROM:<a@b.c>", SmtpVerb.Mail)]
    [InlineData("rCpT TO:<a@b.c>", SmtpVerb.Rcpt)]
    [InlineData("data", SmtpVerb.Data)]
    [InlineData("StartTls", SmtpVerb.StartTls)]
    [InlineData("quit", SmtpVerb.Quit)]
    public void Verbs_are_case_insensitive(string line, SmtpVerb expected)
    {
        Assert.Equal(expected, Verb(line));
    }

    [Theory]
    [InlineData("TURN")]
    [InlineData("ETRN example.com")]
    [InlineData("SEND FROM:<a@b.c>")]
    [InlineData("XCLIENT ADDR=1.2.3.4")]
    [InlineData("GET / HTTP/1.1")]
    [InlineData("FOO")]
    public void Unknown_verbs_are_Unknown(string line)
    {
        Assert.Equal(SmtpVerb.Unknown, Verb(line));
    }

    [Theory]
    [InlineData("MAILFROM:<a@b.c>")]
    [InlineData("DATAX")]
    [InlineData("QUIT\t")]
    [InlineData("RCPT:TO:<a@b.c>")]
    [InlineData("HELO\0x")]
    [InlineData("STARTTLSX")]
    [InlineData("NOOP.")]
    public void Verb_glued_to_other_bytes_is_Unknown(string line)
    {
        Assert.Equal(SmtpVerb.Unknown, Verb(line));
    }

    [Theory]
    [InlineData("MAIL")]
    [InlineData("RCPT")]
    [InlineData("HELO")]
    public void Verb_without_argument_is_still_recognised(string line)
    {
        Assert.NotEqual(SmtpVerb.Unknown, Verb(line));
    }

    [Fact]
    public void Empty_line_is_Unknown()
    {
        Assert.Equal(SmtpVerb.Unknown, CommandParser.ParseVerb([], out var argument));
        Assert.True(argument.IsEmpty);
    }

    [Fact]
    public void Leading_space_is_not_a_verb()
    {
        Assert.Equal(SmtpVerb.Unknown, Verb(" QUIT"));
    }

    [Fact]
    public void Argument_is_everything_after_the_first_space()
    {
        CommandParser.ParseVerb(Bytes.Ascii("MAIL FROM:<a@b.c> SIZE=10"), out var argument);
        Assert.Equal("FROM:<a@b.c> SIZE=10", Bytes.Text(argument));
    }

    [Fact]
    public void Verb_alone_has_an_empty_argument()
    {
        CommandParser.ParseVerb(Bytes.Ascii("DATA"), out var argument);
        Assert.True(argument.IsEmpty);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.c>\0")]
    [InlineData("HELO a\rb")]
    [InlineData("HELO a\nb")]
    [InlineData("NOOP \x1b[31m")]
    [InlineData("NOOP \x7f")]
    public void Control_characters_in_a_command_are_detected(string line)
    {
        Assert.True(CommandParser.HasControlCharacters(Bytes.Ascii(line)));
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.c> SIZE=10")]
    [InlineData("NOOP\ttab is allowed")]
    public void Printable_commands_have_no_control_characters(string line)
    {
        Assert.False(CommandParser.HasControlCharacters(Bytes.Ascii(line)));
    }

    [Fact]
    public void UTF8_bytes_are_not_control_characters()
    {
        Assert.False(CommandParser.HasControlCharacters(Bytes.Utf8("RCPT TO:<jörg@bücher.example>")));
    }
}
