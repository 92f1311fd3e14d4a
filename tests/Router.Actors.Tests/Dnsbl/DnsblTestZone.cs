using Router.Actors.Tests.Delivery;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>
/// One dnsmasq for <see cref="DnsblCheckerTests"/> serving two blocklists, bl.test and
/// second.test, and forwarding servfail.test to a loopback server that answers SERVFAIL to all.
/// </summary>
public sealed class DnsblTestZone : DnsmasqFixture
{
    /// <summary>2001:db8::99's name under bl.test (RFC 5782 s2.4).</summary>
    public const string Ipv6Name = "9.9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test";

    private ScriptedDnsServer? _servfail;

    public string Server { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        _servfail = new ScriptedDnsServer(ScriptedDnsServer.ServFail);
        Server = await StartAsync(
        [
            Host("2.0.0.127.bl.test", "127.0.0.2"),
            Txt("2.0.0.127.bl.test", "listed for testing"),
            Host("3.0.0.127.bl.test", "127.0.0.3"),
            // Listed with a code outside 127.0.0.[2..11] (as Spamhaus answers 127.255.255.x for errors).
            Host("4.0.0.127.bl.test", "127.0.0.12"),
            Host(Ipv6Name, "127.0.0.2"),
            Txt(Ipv6Name, "v6 listed"),
            Host("2.0.0.127.second.test", "127.0.0.2"),
            Txt("2.0.0.127.second.test", "second list"),
            Host("5.0.0.127.second.test", "127.0.0.4"),
            Forward("servfail.test", _servfail.Server),
        ]);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_servfail is not null) await _servfail.DisposeAsync();
    }
}
