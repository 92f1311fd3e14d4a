using System.Net;
using Router.Actors.Dnsbl;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>
/// The entries of router.smtp.dnsbl, in Postfix's reject_rbl_client syntax: "zone" or
/// "zone=d.d.d.d", each d a number or [...] of ';'-separated numbers and lo..hi ranges.
/// </summary>
public sealed class DnsblSiteTests
{
    private static bool Counts(string entry, string answer) => DnsblSite.Parse(entry).Counts(IPAddress.Parse(answer));

    [Fact]
    public void A_zone_alone_counts_any_A_record()
    {
        var site = DnsblSite.Parse("zen.spamhaus.org");

        Assert.Equal("zen.spamhaus.org", site.Zone);
        Assert.Equal("zen.spamhaus.org", site.Text);
        Assert.True(site.Counts(IPAddress.Parse("127.0.0.2")));
        Assert.True(site.Counts(IPAddress.Parse("127.255.255.254")));
    }

    [Fact]
    public void The_zone_is_lower_cased_and_loses_its_trailing_dot_and_spaces()
    {
        var site = DnsblSite.Parse("  BL.Example.  =127.0.0.2 ");

        Assert.Equal("bl.example", site.Zone);
        Assert.Equal("bl.example=127.0.0.2", site.Text);
    }

    [Theory]
    [InlineData("bl.example=127.0.0.2", "127.0.0.2", true)]
    [InlineData("bl.example=127.0.0.2", "127.0.0.3", false)]
    [InlineData("bl.example=127.0.0.[2..11]", "127.0.0.2", true)]
    [InlineData("bl.example=127.0.0.[2..11]", "127.0.0.11", true)]
    [InlineData("bl.example=127.0.0.[2..11]", "127.0.0.12", false)]
    [InlineData("bl.example=127.0.0.[2..11]", "127.0.0.1", false)]
    [InlineData("bl.example=127.0.0.[2..11]", "127.255.255.254", false)]
    [InlineData("bl.example=127.0.0.[2;4;10..11]", "127.0.0.4", true)]
    [InlineData("bl.example=127.0.0.[2;4;10..11]", "127.0.0.10", true)]
    [InlineData("bl.example=127.0.0.[2;4;10..11]", "127.0.0.3", false)]
    [InlineData("bl.example=127.[0..1].0.[2]", "127.1.0.2", true)]
    [InlineData("bl.example=127.[0..1].0.[2]", "127.2.0.2", false)]
    public void A_result_filter_counts_only_the_A_records_it_matches(string entry, string answer, bool counts) =>
        Assert.Equal(counts, Counts(entry, answer));

    [Fact]
    public void A_result_filter_never_matches_an_IPv6_answer() =>
        Assert.False(Counts("bl.example=127.0.0.[0..255]", "::1"));

    [Theory]
    [InlineData("", "is not a DNS zone")]
    [InlineData("=127.0.0.2", "is not a DNS zone")]
    [InlineData("localhost", "is not a DNS zone")]
    [InlineData("bl..example", "is not a DNS zone")]
    [InlineData("bl example.org", "is not a DNS zone")]
    [InlineData("bl.example=", "is not of the form d.d.d.d")]
    [InlineData("bl.example=127.0.0", "is not of the form d.d.d.d")]
    [InlineData("bl.example=127.0.0.2.1", "is not of the form d.d.d.d")]
    [InlineData("bl.example=127.0.0.256", "'256' in the result filter")]
    [InlineData("bl.example=127.0.0.[11..2]", "'[11..2]' in the result filter")]
    [InlineData("bl.example=127.0.0.[2..]", "'[2..]' in the result filter")]
    [InlineData("bl.example=127.0.0.[]", "'[]' in the result filter")]
    [InlineData("bl.example=127.0.0.[2;;3]", "'[2;;3]' in the result filter")]
    [InlineData("bl.example=127.0.0.x", "'x' in the result filter")]
    [InlineData("bl.example=127.0.0.-1", "'-1' in the result filter")]
    public void An_entry_that_is_not_a_zone_and_filter_is_refused_saying_what_is_wrong(string entry, string expected)
    {
        var error = Assert.Throws<FormatException>(() => DnsblSite.Parse(entry));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{entry}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_zone_too_long_to_hold_an_IPv6_address_in_front_is_refused()
    {
        var zone = string.Join('.', Enumerable.Repeat(new string('a', 60), 4)); // 243 characters
        Assert.Throws<FormatException>(() => DnsblSite.Parse(zone));
    }
}
