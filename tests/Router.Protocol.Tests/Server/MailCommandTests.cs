namespace Router.Protocol.Tests.Server;

/// <summary>CommandParser.ParseMail: <c>MAIL FROM:&lt;path&gt; [params]</c> (RFC 5321 s4.1.1.2, s4.1.2).</summary>
public sealed class MailCommandTests
{
    private static MailCommand? Mail(string argument, out SmtpReply? error, bool utf8Offered = true) =>
        CommandParser.ParseMail(Bytes.Utf8(argument), utf8Offered, out error);

    private static MailCommand Accepted(string argument, bool utf8Offered = true)
    {
        var mail = Mail(argument, out var error, utf8Offered);
        Assert.Null(error);
        Assert.NotNull(mail);
        return mail;
    }

    private static SmtpReply Refused(string argument, bool utf8Offered = true)
    {
        var mail = Mail(argument, out var error, utf8Offered);
        Assert.Null(mail);
        Assert.NotNull(error);
        return error;
    }

    [Fact]
    public void Plain_path_gives_local_part_and_domain()
    {
        var mail = Accepted("FROM:<a@b.c>");
        Assert.Equal(new MailAddress("a", "b.c"), mail.ReversePath);
    }

    [Fact]
    public void Defaults_are_seven_bit_no_size_no_envid_no_RET()
    {
        var mail = Accepted("FROM:<a@b.c>");
        Assert.Null(mail.DeclaredSize);
        Assert.Equal(BodyType.SevenBit, mail.Body);
        Assert.False(mail.SmtpUtf8);
        Assert.Equal(DsnReturn.None, mail.Return);
        Assert.Null(mail.EnvelopeId);
    }

    [Fact]
    public void Space_after_the_colon_is_allowed()
    {
        Assert.Equal(new MailAddress("a", "b.c"), Accepted("FROM: <a@b.c>").ReversePath);
    }

    [Fact]
    public void Keyword_is_case_insensitive()
    {
        Assert.Equal(new MailAddress("a", "b.c"), Accepted("from:<a@b.c>").ReversePath);
    }

    [Fact]
    public void Null_reverse_path_is_accepted_as_null()
    {
        Assert.Null(Accepted("FROM:<>").ReversePath);
    }

    [Fact]
    public void Null_reverse_path_takes_parameters()
    {
        Assert.Equal(123, Accepted("FROM:<> SIZE=123").DeclaredSize);
    }

    [Fact]
    public void Missing_FROM_keyword_is_a_syntax_error()
    {
        Assert.Same(Replies.SyntaxError, Refused("<a@b.c>"));
    }

    [Fact]
    public void Space_before_the_colon_is_a_syntax_error()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM :<a@b.c>"));
    }

    [Fact]
    public void Path_without_angle_brackets_is_refused()
    {
        var error = Refused("FROM:a@b.c");
        Assert.Equal(501, error.Code);
        Assert.Equal("5.1.7", error.Enhanced);
    }

    [Theory]
    [InlineData("FROM:<a@b.c")]
    [InlineData("FROM:a@b.c>")]
    [InlineData("FROM:<<a@b.c>>")]
    [InlineData("FROM:")]
    public void Unbalanced_brackets_are_refused(string argument)
    {
        Assert.Equal(501, Refused(argument).Code);
    }

    [Fact]
    public void Double_at_sign_is_refused()
    {
        Assert.Same(Replies.BadSenderSyntax, Refused("FROM:<a@@b>"));
    }

    [Theory]
    [InlineData("FROM:<a@b@c.d>")]
    [InlineData("FROM:<@b.c>")]
    [InlineData("FROM:<a@>")]
    [InlineData("FROM:<a>")]
    [InlineData("FROM:<a.@b.c>")]
    [InlineData("FROM:<.a@b.c>")]
    [InlineData("FROM:<a..b@b.c>")]
    [InlineData("FROM:<a b@b.c>")]
    [InlineData("FROM:<a@b..c>")]
    [InlineData("FROM:<a@-b.c>")]
    [InlineData("FROM:<a@b-.c>")]
    [InlineData("FROM:<a@b_c.d>")]
    [InlineData("FROM:<a(comment)@b.c>")]
    public void Malformed_mailbox_is_refused_as_bad_sender(string argument)
    {
        Assert.Same(Replies.BadSenderSyntax, Refused(argument));
    }

    [Fact]
    public void Source_route_is_accepted_and_ignored()
    {
        Assert.Equal(new MailAddress("a", "b.c"), Accepted("FROM:<@x.y,@z.w:a@b.c>").ReversePath);
    }

    [Theory]
    [InlineData("FROM:<@x.y:>")]
    [InlineData("FROM:<@x.y,z.w:a@b.c>")]
    [InlineData("FROM:<@:a@b.c>")]
    [InlineData("FROM:<@x..y:a@b.c>")]
    [InlineData("FROM:<@x.y a@b.c>")]
    public void Malformed_source_route_is_refused(string argument)
    {
        Assert.Same(Replies.BadSenderSyntax, Refused(argument));
    }

    [Fact]
    public void Quoted_local_part_keeps_its_quotes()
    {
        Assert.Equal(new MailAddress("\"john doe\"", "b.c"), Accepted("FROM:<\"john doe\"@b.c>").ReversePath);
    }

    [Fact]
    public void Quoted_local_part_may_hold_at_sign_and_escaped_quote()
    {
        Assert.Equal(new MailAddress("\"a@\\\"b\"", "c.d"), Accepted("FROM:<\"a@\\\"b\"@c.d>").ReversePath);
    }

    [Fact]
    public void Quoted_local_part_may_hold_an_angle_bracket()
    {
        var mail = Accepted("FROM:<\"a>b\"@c.d> SIZE=5");
        Assert.Equal(new MailAddress("\"a>b\"", "c.d"), mail.ReversePath);
        Assert.Equal(5, mail.DeclaredSize);
    }

    [Fact]
    public void SMTPUTF8_is_found_after_a_quoted_local_part_holding_an_angle_bracket()
    {
        var mail = Accepted("FROM:<\"jö>rg\"@b.c> SMTPUTF8");
        Assert.Equal(new MailAddress("\"jö>rg\"", "b.c"), mail.ReversePath);
        Assert.True(mail.SmtpUtf8);
    }

    [Theory]
    [InlineData("FROM:<\"john@b.c>")]
    [InlineData("FROM:<\"john\"x@b.c>")]
    [InlineData("FROM:<\"jo\rhn\"@b.c>")]
    [InlineData("FROM:<\"jo\nhn\"@b.c>")]
    [InlineData("FROM:<\"jo\0hn\"@b.c>")]
    [InlineData("FROM:<\"jo\\\nhn\"@b.c>")]
    public void Malformed_quoted_local_part_is_refused(string argument)
    {
        Assert.Same(Replies.BadSenderSyntax, Refused(argument));
    }

    [Fact]
    public void IPv4_address_literal_is_accepted()
    {
        Assert.Equal(new MailAddress("a", "[127.0.0.1]"), Accepted("FROM:<a@[127.0.0.1]>").ReversePath);
    }

    [Fact]
    public void IPv6_address_literal_is_accepted()
    {
        Assert.Equal(new MailAddress("a", "[IPv6:::1]"), Accepted("FROM:<a@[IPv6:::1]>").ReversePath);
    }

    [Theory]
    [InlineData("FROM:<a@[127.0.0]>")]
    [InlineData("FROM:<a@[256.0.0.1]>")]
    [InlineData("FROM:<a@[1.2.3.0377]>")]
    [InlineData("FROM:<a@[::1]>")]
    [InlineData("FROM:<a@[IPv6:1.2.3.4]>")]
    [InlineData("FROM:<a@[IPv6:fe80::1%eth0]>")]
    [InlineData("FROM:<a@[]>")]
    [InlineData("FROM:<a@[127.0.0.1>")]
    public void Malformed_address_literal_is_refused(string argument)
    {
        Assert.Same(Replies.BadSenderSyntax, Refused(argument));
    }

    [Fact]
    public void SIZE_is_parsed()
    {
        Assert.Equal(1_048_576, Accepted("FROM:<a@b.c> SIZE=1048576").DeclaredSize);
    }

    [Theory]
    [InlineData("FROM:<a@b.c> SIZE=")]
    [InlineData("FROM:<a@b.c> SIZE=abc")]
    [InlineData("FROM:<a@b.c> SIZE=-1")]
    [InlineData("FROM:<a@b.c> SIZE=+5")]
    [InlineData("FROM:<a@b.c> SIZE=99999999999999999999")]
    public void SIZE_that_is_not_a_number_is_refused(string argument)
    {
        Assert.Equal(5, Refused(argument).Code / 100);
    }

    [Fact]
    public void BODY_8BITMIME_is_parsed()
    {
        Assert.Equal(BodyType.EightBitMime, Accepted("FROM:<a@b.c> BODY=8BITMIME").Body);
    }

    [Fact]
    public void BODY_7BIT_is_parsed()
    {
        Assert.Equal(BodyType.SevenBit, Accepted("FROM:<a@b.c> body=7bit").Body);
    }

    [Fact]
    public void BODY_BINARYMIME_is_not_offered()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM:<a@b.c> BODY=BINARYMIME"));
    }

    [Fact]
    public void SMTPUTF8_is_accepted_when_offered()
    {
        Assert.True(Accepted("FROM:<a@b.c> SMTPUTF8").SmtpUtf8);
    }

    [Fact]
    public void SMTPUTF8_is_an_unknown_parameter_when_not_offered()
    {
        Assert.Same(Replies.UnknownParameter, Refused("FROM:<a@b.c> SMTPUTF8", utf8Offered: false));
    }

    [Fact]
    public void SMTPUTF8_takes_no_value()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM:<a@b.c> SMTPUTF8=yes"));
    }

    [Fact]
    public void UTF8_address_with_SMTPUTF8_is_accepted()
    {
        var mail = Accepted("FROM:<jörg@bücher.example> SMTPUTF8");
        Assert.Equal(new MailAddress("jörg", "bücher.example"), mail.ReversePath);
        Assert.True(mail.ReversePath!.IsUtf8);
    }

    [Fact]
    public void UTF8_address_without_SMTPUTF8_is_refused_with_553_5_6_7()
    {
        var error = Refused("FROM:<jörg@b.c>");
        Assert.Equal(553, error.Code);
        Assert.Equal("5.6.7", error.Enhanced);
    }

    [Fact]
    public void UTF8_domain_without_SMTPUTF8_is_refused_with_553()
    {
        Assert.Same(Replies.Utf8NotDeclared, Refused("FROM:<a@bücher.example>"));
    }

    [Fact]
    public void UTF8_address_when_SMTPUTF8_is_not_offered_is_refused()
    {
        Assert.Same(Replies.Utf8NotDeclared, Refused("FROM:<jörg@b.c>", utf8Offered: false));
    }

    [Fact]
    public void UTF8_quoted_local_part_with_SMTPUTF8_is_accepted()
    {
        Assert.Equal(new MailAddress("\"jörg m\"", "b.c"), Accepted("FROM:<\"jörg m\"@b.c> SMTPUTF8").ReversePath);
    }

    [Fact]
    public void UTF8_quoted_local_part_without_SMTPUTF8_is_refused()
    {
        Assert.Same(Replies.Utf8NotDeclared, Refused("FROM:<\"jörg m\"@b.c>"));
    }

    [Fact]
    public void Invalid_UTF8_in_a_quoted_local_part_is_refused()
    {
        var argument = Bytes.Ascii("FROM:<\"j\xC3(\"@b.c> SMTPUTF8");
        Assert.Null(CommandParser.ParseMail(argument, utf8Offered: true, out var error));
        Assert.Same(Replies.BadSenderSyntax, error);
    }

    [Fact]
    public void Invalid_UTF8_in_a_local_part_is_refused()
    {
        var argument = Bytes.Ascii("FROM:<j\xC3(@b.c> SMTPUTF8");
        Assert.Null(CommandParser.ParseMail(argument, utf8Offered: true, out var error));
        Assert.Same(Replies.BadSenderSyntax, error);
    }

    [Fact]
    public void RET_FULL_asks_for_the_full_message()
    {
        Assert.Equal(DsnReturn.Full, Accepted("FROM:<a@b.c> RET=FULL").Return);
    }

    [Fact]
    public void RET_HDRS_asks_for_headers_only_and_is_kept_apart_from_no_RET()
    {
        Assert.Equal(DsnReturn.Headers, Accepted("FROM:<a@b.c> RET=HDRS").Return);
        Assert.Equal(DsnReturn.Headers, Accepted("FROM:<a@b.c> ret=hdrs").Return);
    }

    [Fact]
    public void RET_with_another_value_is_refused()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM:<a@b.c> RET=BODY"));
    }

    [Fact]
    public void ENVID_is_kept_as_given()
    {
        Assert.Equal("QQ314159+2B", Accepted("FROM:<a@b.c> ENVID=QQ314159+2B").EnvelopeId);
    }

    [Fact]
    public void ENVID_longer_than_100_is_refused()
    {
        Assert.Equal(501, Refused("FROM:<a@b.c> ENVID=" + new string('x', 101)).Code);
    }

    [Fact]
    public void ENVID_with_equals_sign_is_refused()
    {
        Assert.Equal(501, Refused("FROM:<a@b.c> ENVID=a=b").Code);
        Assert.Equal(501, Refused("FROM:<a@b.c> ENVID=a+2").Code);
        Assert.Equal(501, Refused("FROM:<a@b.c> ENVID=a+2b").Code);
    }

    [Fact]
    public void AUTH_parameter_is_accepted()
    {
        Assert.NotNull(Accepted("FROM:<a@b.c> AUTH=<>"));
    }

    [Fact]
    public void All_parameters_together_are_parsed()
    {
        var mail = Accepted("FROM:<a@b.c> SIZE=42 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=x1");
        Assert.Equal(new MailCommand(new MailAddress("a", "b.c"), 42, BodyType.EightBitMime, true, DsnReturn.Full, "x1"), mail);
    }

    [Fact]
    public void Several_spaces_between_parameters_are_allowed()
    {
        Assert.Equal(7, Accepted("FROM:<a@b.c>   SIZE=7  ").DeclaredSize);
    }

    [Theory]
    [InlineData("FROM:<a@b.c> RET=FULL RET=HDRS")]
    [InlineData("FROM:<a@b.c> ENVID=x ENVID=y")]
    [InlineData("FROM:<a@b.c> SIZE=10 size=10")]
    [InlineData("FROM:<a@b.c> BODY=7BIT BODY=8BITMIME")]
    public void A_parameter_given_twice_is_refused_with_501(string argument)
    {
        Assert.Same(Replies.SyntaxError, Refused(argument));
    }

    [Fact]
    public void Unknown_parameter_is_refused_with_555()
    {
        var error = Refused("FROM:<a@b.c> XFOO=1");
        Assert.Equal(555, error.Code);
        Assert.Equal("5.5.4", error.Enhanced);
    }

    [Fact]
    public void Text_glued_to_the_path_is_a_syntax_error()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM:<a@b.c>SIZE=1"));
    }

    [Fact]
    public void Parameter_with_empty_keyword_is_a_syntax_error()
    {
        Assert.Same(Replies.SyntaxError, Refused("FROM:<a@b.c> =1"));
    }

    [Fact]
    public void Local_part_of_64_octets_is_accepted()
    {
        Assert.NotNull(Accepted($"FROM:<{new string('a', 64)}@b.c>").ReversePath);
    }

    [Fact]
    public void Local_part_over_64_octets_is_refused()
    {
        Assert.Same(Replies.BadSenderSyntax, Refused($"FROM:<{new string('a', 65)}@b.c>"));
    }

    [Fact]
    public void Domain_over_255_octets_is_refused()
    {
        var domain = string.Join('.', Enumerable.Repeat(new string('d', 63), 4)) + ".x"; // 257 octets
        Assert.Same(Replies.BadSenderSyntax, Refused($"FROM:<a@{domain}>"));
    }

    [Fact]
    public void Domain_label_over_63_octets_is_refused()
    {
        Assert.Same(Replies.BadSenderSyntax, Refused($"FROM:<a@{new string('d', 64)}.c>"));
    }

    [Fact]
    public void Path_over_256_octets_is_refused()
    {
        // 64 + 1 + 191 + 2 brackets = 258 octets: each part is within its own limit, the path is not.
        var domain = string.Join('.', Enumerable.Repeat(new string('d', 63), 3)) + ".x";
        Assert.Equal(193, domain.Length);
        Assert.Same(Replies.BadSenderSyntax, Refused($"FROM:<{new string('a', 64)}@{domain}>"));
    }

    [Theory]
    [InlineData("FROM:<a\0@b.c>")]
    [InlineData("FROM:<a\r@b.c>")]
    [InlineData("FROM:<a@b.c\n>")]
    [InlineData("FROM:<a@b\x01.c>")]
    [InlineData("FROM:<a\x7f@b.c>")]
    [InlineData("FROM:<a\t@b.c>")]
    public void Control_characters_in_the_address_are_refused(string argument)
    {
        Assert.Same(Replies.BadSenderSyntax, Refused(argument));
    }

    [Theory]
    [InlineData("FROM:<a@b.c> ENVID=x\ry")]
    [InlineData("FROM:<a@b.c> SIZE=1\n")]
    [InlineData("FROM:<a@b.c> AUTH=a\0")]
    public void Control_characters_in_parameters_are_refused(string argument)
    {
        Assert.Equal(5, Refused(argument).Code / 100);
    }
}
