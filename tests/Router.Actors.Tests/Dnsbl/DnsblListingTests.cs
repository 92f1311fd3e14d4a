using System.Net;
using Router.Actors.Dnsbl;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>The refusal of a listed client's RCPT, worded as Postfix's default_rbl_reply.</summary>
public sealed class DnsblListingTests
{
    [Fact]
    public void The_reply_names_the_client_the_zone_and_the_lists_reason()
    {
        var listing = new DnsblListing(IPAddress.Parse("192.0.2.7"), "zen.spamhaus.org", "https://www.spamhaus.org/query/ip/192.0.2.7");

        Assert.Equal("554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.7", listing.Reply.ToString());
    }

    [Fact]
    public void Without_a_TXT_record_the_reply_ends_with_the_zone()
    {
        var listing = new DnsblListing(IPAddress.Parse("2001:db8::7"), "bl.example", null);

        Assert.Equal("554 5.7.1 Service unavailable; Client host [2001:db8::7] blocked using bl.example", listing.Reply.ToString());
    }

    [Fact]
    public void An_IPv4_mapped_client_is_named_as_its_IPv4_address() =>
        Assert.Contains("[192.0.2.7]", new DnsblListing(IPAddress.Parse("::ffff:192.0.2.7"), "bl.example", null).Reply.Text, StringComparison.Ordinal);

    [Fact]
    public void The_TXT_text_cannot_break_the_reply_into_lines_or_forge_a_command()
    {
        var listing = new DnsblListing(IPAddress.Loopback, "bl.example", "listed\r\n250 OK\tfor  spam\u00e9\0");

        Assert.Equal("listed 250 OK for spam?", listing.Text);
        var wire = System.Text.Encoding.ASCII.GetString(listing.Reply.Bytes.Span);
        Assert.Single(wire.Split("\r\n", StringSplitOptions.RemoveEmptyEntries));
        Assert.EndsWith("blocked using bl.example; listed 250 OK for spam?\r\n", wire, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_TXT_text_is_cut_so_the_reply_stays_within_the_line_limit()
    {
        var listing = new DnsblListing(IPAddress.Parse("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), new string('z', 60) + "." + new string('z', 60) + ".example", new string('x', 5000));

        Assert.Equal(DnsblListing.MaxTextLength, listing.Text!.Length);
        // RFC 5321 s4.5.3.1.5: 512 octets with the CRLF.
        Assert.True(listing.Reply.Bytes.Length <= 512, $"{listing.Reply.Bytes.Length} octets");
    }
}
