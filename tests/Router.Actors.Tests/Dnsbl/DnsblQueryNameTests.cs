using System.Net;
using Router.Actors.Dnsbl;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>The name a client is looked up under (RFC 5782 s2.1 IPv4, s2.4 IPv6).</summary>
public sealed class DnsblQueryNameTests
{
    [Theory]
    [InlineData("192.0.2.99", "99.2.0.192.bl.example")]
    [InlineData("127.0.0.2", "2.0.0.127.bl.example")]
    [InlineData("10.20.30.255", "255.30.20.10.bl.example")]
    public void IPv4_octets_come_in_reverse_order_before_the_zone(string client, string expected) =>
        Assert.Equal(expected, DnsblQueryName.For(IPAddress.Parse(client), "bl.example"));

    [Fact]
    public void IPv6_is_its_32_nibbles_in_reverse_order_as_RFC_5782_shows()
    {
        // RFC 5782 s2.4's own example.
        Assert.Equal(
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example",
            DnsblQueryName.For(IPAddress.Parse("2001:db8:1:2:3:4:567:89ab"), "bl.example"));
    }

    [Fact]
    public void IPv6_loopback_has_every_nibble_even_the_zeros()
    {
        var name = DnsblQueryName.For(IPAddress.IPv6Loopback, "bl.example");

        Assert.Equal("1." + string.Concat(Enumerable.Repeat("0.", 31)) + "bl.example", name);
    }

    [Fact]
    public void Hex_digits_are_lower_case()
    {
        Assert.StartsWith("f.e.d.c.b.a.", DnsblQueryName.For(IPAddress.Parse("2001:db8::ab:cdef"), "z.example"), StringComparison.Ordinal);
    }

    [Fact]
    public void An_IPv4_mapped_IPv6_client_is_looked_up_as_its_IPv4_address()
    {
        // What a dual-stack listener sees of an IPv4 client.
        Assert.Equal("99.2.0.192.bl.example", DnsblQueryName.For(IPAddress.Parse("::ffff:192.0.2.99"), "bl.example"));
    }
}
