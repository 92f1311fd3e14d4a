namespace Router.Protocol.Tests.Server;

/// <summary>CommandParser.ParseHelo: the HELO/EHLO name goes into the Received header, so it must be clean.</summary>
public sealed class HeloTests
{
    private static string? Helo(string argument, out SmtpReply? error) => CommandParser.ParseHelo(Bytes.Utf8(argument), out error);

    [Theory]
    [InlineData("mail.example.com")]
    [InlineData("localhost")]
    [InlineData("a-b.c-d.example")]
    [InlineData("MX1.EXAMPLE.ORG")]
    [InlineData("123.example")]
    [InlineData("[192.0.2.1]")]
    [InlineData("[IPv6:2001:db8::1]")]
    [InlineData("[IPv6:::ffff:192.0.2.1]")]
    [InlineData("bücher.example")]
    [InlineData("my_host")]
    [InlineData("DESKTOP_7QX2.corp.example")]
    [InlineData("host.example.")]
    [InlineData("localhost.")]
    public void Valid_names_are_accepted_as_given(string name)
    {
        Assert.Equal(name, Helo(name, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void Surrounding_spaces_are_trimmed()
    {
        Assert.Equal("mx.example", Helo("  mx.example  ", out _));
    }

    [Theory]
    [InlineData("client.example extra", "client.example")]
    [InlineData("client.example  two more words", "client.example")]
    [InlineData("my_pc [192.0.2.1]", "my_pc")]
    public void Words_after_the_name_are_ignored(string argument, string name)
    {
        Assert.Equal(name, Helo(argument, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(".")]
    [InlineData("host.example..")]
    [InlineData(".host.example")]
    [InlineData("-bad.example")]
    [InlineData("bad-.example")]
    [InlineData("a..b")]
    [InlineData("bad_name-.example")]
    [InlineData("bad/name.example")]
    [InlineData("[300.1.1.1]")]
    [InlineData("[1.2.3]")]
    [InlineData("[IPv6:zz::1]")]
    [InlineData("[bogus]")]
    public void Malformed_names_are_refused(string name)
    {
        Assert.Null(Helo(name, out var error));
        Assert.Same(Replies.BadHeloSyntax, error);
    }

    [Theory]
    [InlineData("evil.example\r\nX-Injected: yes")]
    [InlineData("evil.example\r\nX-Injected:yes")]
    [InlineData("evil.example\nX-Injected:yes")]
    [InlineData("evil.example\rX")]
    [InlineData("evil\0.example")]
    [InlineData("evil.example\t")]
    [InlineData("evil.example\textra")]
    [InlineData("evil.example extra\r\nX-Injected: yes")]
    [InlineData("evil.example extra\0")]
    [InlineData("[192.0.2.1]\r\nX:y")]
    [InlineData("[IPv6:::1%\r\nX-Injected:yes]")]
    [InlineData("[IPv6:fe80::1%eth0]")]
    [InlineData("[IPv6:::1 ]")]
    public void Names_with_line_breaks_NUL_or_tabs_are_refused(string name)
    {
        Assert.Null(Helo(name, out var error));
        Assert.Same(Replies.BadHeloSyntax, error);
    }

    [Fact]
    public void Invalid_UTF8_name_is_refused()
    {
        Assert.Null(CommandParser.ParseHelo(Bytes.Ascii("b\xFCcher.example"), out var error));
        Assert.Same(Replies.BadHeloSyntax, error);
    }
}
