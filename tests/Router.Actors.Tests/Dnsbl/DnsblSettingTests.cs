using Akka.Configuration;
using Router.Actors.Configuration;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>router.smtp.dnsbl as the start, a reload and `router check` read it (<see cref="NodeConfiguration.Read"/>).</summary>
public sealed class DnsblSettingTests
{
    private static NodeConfiguration Read(string hocon)
    {
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(ConfigurationFactory.ParseString("""
            router {
              hostname = "mx.example.test"
              data-dir = "/tmp/unused"
              smtp.endpoints = []
              local-domains = ["example.test"]
              mailboxes = ["postmaster@example.test"]
            }
            """));
        return NodeConfiguration.Read(config, RouterSettings.FromConfig(config, _ => "/srv/router"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("router.smtp.dnsbl = []")]
    public void No_list_is_asked_unless_the_operator_names_one(string hocon) => Assert.Empty(Read(hocon).Dnsbl);

    [Fact]
    public void Lists_are_read_in_order_with_their_filters()
    {
        var sites = Read("""router.smtp.dnsbl = ["zen.spamhaus.org=127.0.0.[2..11]", "BL.Example."]""").Dnsbl;

        Assert.Equal(["zen.spamhaus.org=127.0.0.[2..11]", "bl.example"], sites.Select(s => s.Text));
        Assert.Equal(["zen.spamhaus.org", "bl.example"], sites.Select(s => s.Zone));
    }

    [Fact]
    public void One_list_may_be_given_as_a_string() =>
        Assert.Equal("bl.example", Assert.Single(Read("router.smtp.dnsbl = \"bl.example\"").Dnsbl).Zone);

    [Theory]
    [InlineData("router.smtp.dnsbl = [\"bl.example=127.0.0.[2..300]\"]", "router.smtp.dnsbl: 'bl.example=127.0.0.[2..300]'")]
    [InlineData("router.smtp.dnsbl = [\"spamhaus\"]", "router.smtp.dnsbl: 'spamhaus': 'spamhaus' is not a DNS zone")]
    [InlineData("router.smtp.dnsbl = { zone = \"bl.example\" }", "router.smtp.dnsbl must be a string or a list of strings")]
    public void An_entry_that_does_not_parse_stops_the_start_naming_the_setting(string hocon, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Read(hocon));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
