using System.Text;

namespace Router.Protocol.Tests.Server;

/// <summary>HeaderSection: the header fields of a message (RFC 5322 s2.1), and dropping some of them.</summary>
public sealed class HeaderSectionTests
{
    private static string Without(string message, string field) =>
        Encoding.ASCII.GetString(HeaderSection.Without(Encoding.ASCII.GetBytes(message), Encoding.ASCII.GetBytes(field)).Span);

    [Fact]
    public void A_message_without_the_field_is_returned_as_it_is()
    {
        var message = new ReadOnlyMemory<byte>(Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nReturn-Path: <in the body>\r\n"));

        var result = HeaderSection.Without(message, "Return-Path"u8);

        Assert.True(result.Equals(message), "the same memory, not a copy");
    }

    [Fact]
    public void Every_instance_of_the_field_goes_with_its_folded_lines_in_any_case()
    {
        Assert.Equal(
            "Subject: hi\r\nTo: <a@b.c>\r\n\r\nReturn-Path: <kept, in the body>\r\n",
            Without("Return-Path: <x@y.z>\r\nSubject: hi\r\nreturn-path:\r\n <folded@y.z>\r\n\t(more)\r\nTo: <a@b.c>\r\nRETURN-PATH: <>\r\n\r\nReturn-Path: <kept, in the body>\r\n", "Return-Path"));
    }

    [Fact]
    public void A_field_whose_name_only_starts_the_same_stays()
    {
        const string message = "Return-Path-Note: x\r\nReturn-Paths: y\r\n\r\nbody\r\n";

        Assert.Equal(message, Without(message, "Return-Path"));
    }

    [Fact]
    public void A_field_with_whitespace_before_its_colon_goes_too()
    {
        // The obsolete syntax (RFC 5322 s4.5) is still the field: "Return-Path : <forged>" would sit under ours.
        Assert.Equal(
            "Subject: hi\r\nReturn-Path x: kept\r\n\r\n",
            Without("Return-Path : <forged@evil.test>\r\nSubject: hi\r\nreturn-path\t \t:\r\n <folded@evil.test>\r\nReturn-Path x: kept\r\n\r\n", "Return-Path"));
    }

    [Fact]
    public void A_message_that_is_all_header_loses_the_field_too()
    {
        Assert.Equal("Subject: hi\r\n", Without("Subject: hi\r\nReturn-Path: <x@y.z>\r\n", "Return-Path"));
    }

    [Theory]
    [InlineData("Subject: hi\r\n\r\nbody\r\n")]
    [InlineData("subject:hi\r\n")]
    [InlineData("Subject : obsolete, WSP before the colon\r\n")]
    [InlineData("Subject\t:x\r\n")]
    [InlineData("X-!#$%&'*+-/=?^_`{|}~:x\r\n")]
    public void A_message_that_begins_with_a_field_is_left_as_it_is(string message)
    {
        var bytes = new ReadOnlyMemory<byte>(Encoding.ASCII.GetBytes(message));

        Assert.True(HeaderSection.BeginsWithField(bytes.Span));
        Assert.True(HeaderSection.Framed(bytes).Equals(bytes), "the same memory, not a copy");
    }

    [Theory]
    [InlineData("\t(authenticated sender: ceo@example.test)\r\nSubject: inj\r\n\r\nx\r\n")]
    [InlineData(" Subject: a continuation line\r\n")]
    [InlineData("just a body line.\r\n")]
    [InlineData("Subject\r\n")]
    [InlineData(":no name\r\n")]
    [InlineData("Sub ject: a space inside the name\r\n")]
    [InlineData("Subj\u00e9ct: 8-bit in the name\r\n")]
    [InlineData("Subject")]
    [InlineData("")]
    public void A_message_that_does_not_begin_with_a_field_is_all_body_after_an_empty_line(string message)
    {
        var bytes = Encoding.Latin1.GetBytes(message);

        Assert.False(HeaderSection.BeginsWithField(bytes));
        Assert.Equal("\r\n" + message, Encoding.Latin1.GetString(HeaderSection.Framed(bytes).Span));
    }

    [Fact]
    public void A_message_that_begins_with_the_empty_line_gets_no_second_one()
    {
        var bytes = new ReadOnlyMemory<byte>("\r\nno header fields\r\n"u8.ToArray());

        Assert.True(HeaderSection.Framed(bytes).Equals(bytes), "the same memory, not a copy");
    }
}
