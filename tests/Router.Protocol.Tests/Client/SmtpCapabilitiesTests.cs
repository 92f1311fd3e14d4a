using Router.Protocol.Client;

namespace Router.Protocol.Tests.Client;

public sealed class SmtpCapabilitiesTests
{
    [Fact]
    public void Extensions_of_an_EHLO_reply_are_parsed()
    {
        var ehlo = new SmtpReply(250, null, "mx.test greets client.test", "PIPELINING", "SIZE 35882577", "8BITMIME",
            "smtputf8", "STARTTLS", "CHUNKING", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN", "X-CUSTOM arg");
        var caps = SmtpCapabilities.Parse(ehlo);
        Assert.True(caps.Pipelining);
        Assert.True(caps.Size);
        Assert.Equal(35882577, caps.MaxSize);
        Assert.True(caps.EightBitMime);
        Assert.True(caps.SmtpUtf8);
        Assert.True(caps.StartTls);
        Assert.True(caps.Chunking);
        Assert.True(caps.EnhancedStatusCodes);
        Assert.True(caps.AuthMechanisms.SetEquals(["PLAIN", "LOGIN"]));
        Assert.Contains("x-custom", caps.Keywords);
    }

    [Fact]
    public void SIZE_without_a_number_means_no_fixed_limit()
    {
        var caps = SmtpCapabilities.Parse(new SmtpReply(250, null, "mx.test", "SIZE"));
        Assert.True(caps.Size);
        Assert.Null(caps.MaxSize);
    }

    [Fact]
    public void Old_style_AUTH_equals_is_understood()
    {
        var caps = SmtpCapabilities.Parse(new SmtpReply(250, null, "mx.test", "AUTH=LOGIN"));
        Assert.True(caps.Auth);
        Assert.Contains("LOGIN", caps.AuthMechanisms);
    }

    [Theory]
    [InlineData("AUTH LOGIN PLAIN CRAM-MD5", SmtpAuthMechanism.Plain)]
    [InlineData("AUTH plain", SmtpAuthMechanism.Plain)]
    [InlineData("AUTH CRAM-MD5 LOGIN", SmtpAuthMechanism.Login)]
    [InlineData("AUTH=LOGIN", SmtpAuthMechanism.Login)]
    public void PLAIN_is_preferred_and_LOGIN_taken_when_PLAIN_is_not_offered(string auth, SmtpAuthMechanism expected) =>
        Assert.Equal(expected, SmtpCapabilities.Parse(new SmtpReply(250, null, "mx.test", auth)).PreferredAuthMechanism);

    [Theory]
    [InlineData("AUTH CRAM-MD5 XOAUTH2")]
    [InlineData("PIPELINING")]
    public void No_mechanism_is_usable_without_PLAIN_or_LOGIN(string extension) =>
        Assert.Null(SmtpCapabilities.Parse(new SmtpReply(250, null, "mx.test", extension)).PreferredAuthMechanism);

    [Fact]
    public void The_greeting_line_is_not_a_keyword()
    {
        var caps = SmtpCapabilities.Parse(new SmtpReply(250, null, "PIPELINING"));
        Assert.False(caps.Pipelining);
    }
}
