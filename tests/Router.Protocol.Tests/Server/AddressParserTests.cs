namespace Router.Protocol.Tests.Server;

/// <summary>AddressParser limits and domain rules (RFC 5321 s4.1.2, s4.5.3.1).</summary>
public sealed class AddressParserTests
{
    private static string Domain(int length)
    {
        // Labels of 63 joined by dots, padded with a short last label to the exact length.
        var labels = new List<string>();
        var remaining = length;
        while (remaining > 64)
        {
            labels.Add(new string('d', 63));
            remaining -= 64;
        }
        labels.Add(new string('e', remaining));
        var domain = string.Join('.', labels);
        Assert.Equal(length, domain.Length);
        return domain;
    }

    [Theory]
    [InlineData("\"demo\"@b.c", "demo")]
    [InlineData("\"first.last\"@b.c", "first.last")]
    [InlineData("\"d\\emo\"@b.c", "demo")]          // a quoted-pair of an ordinary character
    [InlineData("\"john smith\"@b.c", "\"john smith\"")]
    [InlineData("\"a..b\"@b.c", "\"a..b\"")]
    [InlineData("\"\"@b.c", "\"\"")]
    public void A_quoted_local_part_that_needs_no_quotes_is_the_dot_string(string mailbox, string local)
    {
        // RFC 5321 s4.1.2: "demo"@b.c is demo@b.c, so it reaches the same mailbox.
        Assert.True(AddressParser.TryParseMailbox(Bytes.Ascii(mailbox), allowUtf8: false, out var address));
        Assert.Equal(local, address!.LocalPart);
    }

    [Fact]
    public void Domain_of_255_octets_is_accepted()
    {
        Assert.True(AddressParser.TryParseMailbox(Bytes.Ascii("a@" + Domain(255)), allowUtf8: false, out var address));
        Assert.Equal(255, address!.Domain.Length);
    }

    [Fact]
    public void Domain_of_256_octets_is_refused()
    {
        Assert.False(AddressParser.TryParseMailbox(Bytes.Ascii("a@" + Domain(256)), allowUtf8: false, out _));
    }

    [Fact]
    public void Consumed_stops_after_the_closing_bracket()
    {
        Assert.True(AddressParser.TryParsePath(Bytes.Ascii("<a@b.c> SIZE=1"), allowUtf8: false, allowNull: false, out _, out var consumed));
        Assert.Equal(7, consumed);
    }

    [Fact]
    public void Null_path_is_refused_unless_allowed()
    {
        Assert.False(AddressParser.TryParsePath(Bytes.Ascii("<>"), allowUtf8: false, allowNull: false, out _, out _));
        Assert.True(AddressParser.TryParsePath(Bytes.Ascii("<>"), allowUtf8: false, allowNull: true, out var address, out _));
        Assert.Null(address);
    }

    [Fact]
    public void UTF8_local_part_is_refused_when_not_allowed()
    {
        Assert.False(AddressParser.TryParseMailbox(Bytes.Utf8("jörg@b.c"), allowUtf8: false, out _));
    }

    [Fact]
    public void UTF8_quoted_local_part_is_refused_when_not_allowed()
    {
        Assert.False(AddressParser.TryParseMailbox(Bytes.Utf8("\"jörg\"@b.c"), allowUtf8: false, out _));
    }

    [Fact]
    public void UTF8_domain_is_refused_when_not_allowed()
    {
        Assert.False(AddressParser.IsDomain(Bytes.Utf8("bücher.example"), allowUtf8: false));
    }

    [Fact]
    public void Domain_is_compared_as_given_but_key_is_lower_case()
    {
        Assert.True(AddressParser.TryParseMailbox(Bytes.Ascii("John@Example.COM"), allowUtf8: false, out var address));
        Assert.Equal("John@Example.COM", address!.ToString());
        Assert.Equal("john@example.com", address.Key);
    }

    [Theory]
    [InlineData("[0.0.0.0]")]
    [InlineData("[255.255.255.255]")]
    [InlineData("[IPv6:2001:db8:0:0:0:0:0:1]")]
    [InlineData("[IPv6:::]")]
    public void Address_literals_at_the_edges_are_accepted(string literal)
    {
        Assert.True(AddressParser.IsHeloName(Bytes.Ascii(literal)));
    }

    [Theory]
    [InlineData("[1.2.3.4.5]")]
    [InlineData("[1..2.3]")]
    [InlineData("[1.2.3.1234]")]
    [InlineData("[IPv6:::1%1]")]
    [InlineData("[IPv6:::1/64]")]
    [InlineData("[IPv6:]")]
    public void Address_literals_outside_RFC_5321_are_refused(string literal)
    {
        Assert.False(AddressParser.IsHeloName(Bytes.Ascii(literal)));
    }

    [Fact]
    public void IPv6_tag_is_case_insensitive_like_all_ABNF_strings()
    {
        Assert.True(AddressParser.IsHeloName(Bytes.Ascii("[ipv6:::1]")));
    }
}
