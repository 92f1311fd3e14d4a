namespace Router.Protocol.Tests.Server;

/// <summary>CommandParser.ParseRcpt: <c>RCPT TO:&lt;path&gt; [params]</c> (RFC 5321 s4.1.1.3, RFC 3461 s4).</summary>
public sealed class RcptCommandTests
{
    /// <summary>Where the operator has RCPT TO:&lt;Postmaster&gt; delivered (router.postmaster).</summary>
    private static readonly MailAddress Postmaster = new("hostmaster", "mx.example");

    private static RcptCommand Accepted(string argument, bool smtpUtf8 = false)
    {
        var rcpt = CommandParser.ParseRcpt(Bytes.Utf8(argument), smtpUtf8, Postmaster, out var error);
        Assert.Null(error);
        Assert.NotNull(rcpt);
        return rcpt;
    }

    private static SmtpReply Refused(string argument, bool smtpUtf8 = false)
    {
        var rcpt = CommandParser.ParseRcpt(Bytes.Utf8(argument), smtpUtf8, Postmaster, out var error);
        Assert.Null(rcpt);
        Assert.NotNull(error);
        return error;
    }

    [Fact]
    public void Plain_recipient_is_parsed()
    {
        var rcpt = Accepted("TO:<a@b.c>");
        Assert.Equal(new MailAddress("a", "b.c"), rcpt.Recipient);
        Assert.Equal(DsnNotify.None, rcpt.Notify);
        Assert.Null(rcpt.OriginalRecipient);
        Assert.False(rcpt.BarePostmaster);
    }

    [Fact]
    public void Space_after_the_colon_is_allowed()
    {
        Assert.Equal(new MailAddress("a", "b.c"), Accepted("to: <a@b.c>").Recipient);
    }

    [Theory]
    [InlineData("TO:<postmaster>")]
    [InlineData("TO:<Postmaster>")]
    [InlineData("TO:<POSTMASTER>")]
    [InlineData("To:<pOsTmAsTeR>")]
    public void Postmaster_without_domain_is_accepted_in_any_case(string argument)
    {
        var rcpt = Accepted(argument);
        Assert.Equal(Postmaster, rcpt.Recipient);
        Assert.True(rcpt.BarePostmaster);
    }

    [Fact]
    public void Postmaster_without_domain_takes_parameters()
    {
        Assert.Equal(DsnNotify.Failure, Accepted("TO:<Postmaster> NOTIFY=FAILURE").Notify);
    }

    [Fact]
    public void Postmaster_with_glued_text_is_a_syntax_error()
    {
        Assert.Same(Replies.SyntaxError, Refused("TO:<Postmaster>x"));
    }

    [Fact]
    public void Other_local_part_without_domain_is_refused()
    {
        Assert.Same(Replies.BadRecipientSyntax, Refused("TO:<abuse>"));
    }

    [Fact]
    public void Null_path_is_refused()
    {
        Assert.Same(Replies.BadRecipientSyntax, Refused("TO:<>"));
    }

    [Theory]
    [InlineData("TO:a@b.c")]
    [InlineData("TO:<a@@b.c>")]
    [InlineData("TO:<a@b.c")]
    [InlineData("TO:<a b@c.d>")]
    [InlineData("TO:<a@b.c\r\nX: y>")]
    public void Bad_syntax_is_refused_with_501_5_1_3(string argument)
    {
        var error = Refused(argument);
        Assert.Equal(501, error.Code);
        Assert.Equal("5.1.3", error.Enhanced);
    }

    [Fact]
    public void Missing_TO_keyword_is_a_syntax_error()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM:<a@b.c>"));
    }

    [Fact]
    public void Source_route_is_ignored()
    {
        Assert.Equal(new MailAddress("a", "b.c"), Accepted("TO:<@relay.example:a@b.c>").Recipient);
    }

    [Fact]
    public void UTF8_recipient_needs_SMTPUTF8_on_MAIL()
    {
        Assert.Same(Replies.Utf8NotDeclared, Refused("TO:<jörg@b.c>", smtpUtf8: false));
    }

    [Fact]
    public void UTF8_recipient_is_accepted_after_MAIL_with_SMTPUTF8()
    {
        Assert.Equal(new MailAddress("jörg", "b.c"), Accepted("TO:<jörg@b.c>", smtpUtf8: true).Recipient);
    }

    [Theory]
    [InlineData("NEVER", DsnNotify.Never)]
    [InlineData("SUCCESS", DsnNotify.Success)]
    [InlineData("FAILURE", DsnNotify.Failure)]
    [InlineData("DELAY", DsnNotify.Delay)]
    [InlineData("SUCCESS,FAILURE,DELAY", DsnNotify.Success | DsnNotify.Failure | DsnNotify.Delay)]
    [InlineData("failure,delay", DsnNotify.Failure | DsnNotify.Delay)]
    public void NOTIFY_flags_are_parsed(string value, DsnNotify expected)
    {
        Assert.Equal(expected, Accepted("TO:<a@b.c> NOTIFY=" + value).Notify);
    }

    [Theory]
    [InlineData("NEVER,SUCCESS")]
    [InlineData("FAILURE,NEVER")]
    public void NOTIFY_NEVER_is_exclusive(string value)
    {
        Assert.Same(Replies.SyntaxError, Refused("TO:<a@b.c> NOTIFY=" + value));
    }

    [Theory]
    [InlineData("")]
    [InlineData("SOMETIMES")]
    [InlineData("SUCCESS,")]
    [InlineData(",SUCCESS")]
    public void NOTIFY_with_bad_value_is_refused(string value)
    {
        Assert.Equal(501, Refused("TO:<a@b.c> NOTIFY=" + value).Code);
    }

    [Fact]
    public void ORCPT_is_kept_as_given()
    {
        Assert.Equal("rfc822;a+40b.c", Accepted("TO:<x@y.z> ORCPT=rfc822;a+40b.c").OriginalRecipient);
    }

    [Theory]
    [InlineData("ORCPT=a@b.c")]
    [InlineData("ORCPT=;a@b.c")]
    [InlineData("ORCPT=rfc822;a\x01@b.c")]
    [InlineData("ORCPT=rfc822;a+zz@b.c")]   // not xtext: '+' starts two upper-case hex digits
    [InlineData("ORCPT=rfc822;a+4@b.c")]
    [InlineData("ORCPT=rfc822;a=b@b.c")]
    [InlineData("ORCPT=rfc822;")]
    [InlineData("ORCPT=rfc 822;a@b.c")]
    public void ORCPT_without_address_type_or_with_controls_is_refused(string parameter)
    {
        Assert.Same(Replies.SyntaxError, Refused("TO:<x@y.z> " + parameter));
    }

    [Fact]
    public void ORCPT_over_500_octets_is_refused()
    {
        Assert.Same(Replies.SyntaxError, Refused("TO:<x@y.z> ORCPT=rfc822;" + new string('a', 494)));
    }

    [Theory]
    [InlineData("TO:<x@y.z> NOTIFY=SUCCESS NOTIFY=FAILURE")]
    [InlineData("TO:<x@y.z> ORCPT=rfc822;x@y.z ORCPT=rfc822;x@y.z")]
    [InlineData("TO:<x@y.z> notify=NEVER NOTIFY=NEVER")]
    public void A_parameter_given_twice_is_refused_with_501(string argument)
    {
        Assert.Same(Replies.SyntaxError, Refused(argument));
    }

    [Fact]
    public void A_utf8_ORCPT_keeps_its_UTF8()
    {
        Assert.Equal("utf-8;bücher@y.z", Accepted("TO:<x@y.z> ORCPT=utf-8;bücher@y.z", smtpUtf8: true).OriginalRecipient);
    }

    [Fact]
    public void NOTIFY_and_ORCPT_together_are_parsed()
    {
        var rcpt = Accepted("TO:<x@y.z> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.z");
        Assert.Equal(new RcptCommand(new MailAddress("x", "y.z"), DsnNotify.Success | DsnNotify.Failure, "rfc822;x@y.z"), rcpt);
    }

    [Fact]
    public void Unknown_parameter_is_refused_with_555()
    {
        Assert.Same(Replies.UnknownParameter, Refused("TO:<a@b.c> SIZE=10"));
    }
}
