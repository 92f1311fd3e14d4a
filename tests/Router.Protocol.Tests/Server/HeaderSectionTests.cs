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
}
