using System.Collections.Concurrent;
using System.Net;
using Router.Actors.Delivery;
using Router.Actors.Dnsbl;
using Router.Actors.Tests.Delivery;

namespace Router.Actors.Tests.Dnsbl;

/// <summary>DNSBL lookups (RFC 5782) against a real dnsmasq on loopback, through the node's DNS client.</summary>
public sealed class DnsblCheckerTests(DnsblTestZone zone) : IClassFixture<DnsblTestZone>
{
    private readonly ConcurrentQueue<string> _warnings = new();

    private DnsblChecker Checker(string[] sites, string? server = null, TimeSpan? timeout = null, TimeProvider? clock = null) =>
        new(sites.Select(DnsblSite.Parse).ToArray(), DnsLookupClient.Create([server ?? zone.Server], timeout ?? TimeSpan.FromSeconds(5)), _warnings.Enqueue, clock);

    private static IPAddress Ip(string address) => IPAddress.Parse(address);

    [Fact]
    public async Task A_listed_client_is_named_with_the_zone_and_the_lists_TXT_text()
    {
        var listing = await Checker(["bl.test"]).CheckAsync(Ip("127.0.0.2"));

        Assert.NotNull(listing);
        Assert.Equal("bl.test", listing.Zone);
        Assert.Equal("listed for testing", listing.Text);
        Assert.Equal("554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; listed for testing", listing.Reply.ToString());
    }

    [Fact]
    public async Task A_client_the_list_does_not_know_is_not_listed() =>
        Assert.Null(await Checker(["bl.test"]).CheckAsync(Ip("127.0.0.9")));

    [Fact]
    public async Task A_listing_without_a_TXT_record_has_no_text()
    {
        var listing = await Checker(["bl.test"]).CheckAsync(Ip("127.0.0.3"));

        Assert.NotNull(listing);
        Assert.Null(listing.Text);
    }

    [Fact]
    public async Task An_A_record_outside_the_result_filter_does_not_list_the_client()
    {
        var checker = Checker(["bl.test=127.0.0.[2..11]"]);

        Assert.Null(await checker.CheckAsync(Ip("127.0.0.4")));
        Assert.NotNull(await checker.CheckAsync(Ip("127.0.0.2")));
        // Without the filter, 127.0.0.12 is a listing.
        Assert.NotNull(await Checker(["bl.test"]).CheckAsync(Ip("127.0.0.4")));
    }

    [Fact]
    public async Task An_IPv6_client_is_looked_up_by_its_nibbles()
    {
        var listing = await Checker(["bl.test"]).CheckAsync(Ip("2001:db8::99"));

        Assert.NotNull(listing);
        Assert.Equal("v6 listed", listing.Text);
    }

    [Fact]
    public async Task With_several_lists_the_first_configured_that_lists_the_client_is_named()
    {
        Assert.Equal("second.test", (await Checker(["second.test", "bl.test"]).CheckAsync(Ip("127.0.0.2")))?.Zone);
        Assert.Equal("bl.test", (await Checker(["bl.test", "second.test"]).CheckAsync(Ip("127.0.0.2")))?.Zone);
        Assert.Equal("second.test", (await Checker(["bl.test", "second.test"]).CheckAsync(Ip("127.0.0.5")))?.Zone);
    }

    [Fact]
    public async Task A_list_that_answers_SERVFAIL_lists_nobody_and_the_others_still_count()
    {
        var checker = Checker(["servfail.test", "bl.test"]);

        Assert.Equal("bl.test", (await checker.CheckAsync(Ip("127.0.0.2")))?.Zone);
        Assert.Null(await checker.CheckAsync(Ip("127.0.0.9")));
        Assert.Contains(_warnings, w => w.StartsWith("dnsbl: servfail.test: lookup of 2.0.0.127.servfail.test failed: A: ServerFailure", StringComparison.Ordinal)
                                        && w.EndsWith("the client is not refused by this list (fail open)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_list_that_does_not_answer_lists_nobody()
    {
        await using var silent = new ScriptedDnsServer(responseCode: null);

        Assert.Null(await Checker(["bl.test"], silent.Server, TimeSpan.FromMilliseconds(200)).CheckAsync(Ip("127.0.0.2")));
        Assert.Contains(_warnings, w => w.StartsWith("dnsbl: bl.test: lookup of 2.0.0.127.bl.test failed: A: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failures_of_one_list_are_warned_of_at_most_once_a_minute_with_a_count_of_the_rest()
    {
        var clock = new ManualClock();
        var checker = Checker(["servfail.test"], clock: clock);

        for (var i = 0; i < 3; i++) await checker.CheckAsync(Ip("127.0.0." + (20 + i)));
        Assert.Single(_warnings);

        clock.Advance(TimeSpan.FromMinutes(1));
        await checker.CheckAsync(Ip("127.0.0.30"));
        Assert.Equal(2, _warnings.Count);
        Assert.EndsWith("(2 more failures since the last warning)", _warnings.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_are_kept_for_their_TTL()
    {
        var dns = new DnsmasqFixture();
        try
        {
            var server = await dns.StartAsync([DnsmasqFixture.Host("2.0.0.127.bl.test", "127.0.0.2"), DnsmasqFixture.Host("marker.bl.test", "127.0.0.1")], localTtl: 300);
            var checker = Checker(["bl.test"], server);

            Assert.NotNull(await checker.CheckAsync(Ip("127.0.0.2")));
            Assert.NotNull(await checker.CheckAsync(Ip("127.0.0.2")));

            // dnsmasq logs its queries in order: once the marker is logged, so is every query before it.
            await DnsLookupClient.Create([server], TimeSpan.FromSeconds(5)).QueryAsync("marker.bl.test", DnsClient.QueryType.A);
            await EventuallyAsync(() => dns.LogOf(server).Contains("query[A] marker.bl.test", StringComparison.Ordinal));
            Assert.Equal(1, Count(dns.LogOf(server), "query[A] 2.0.0.127.bl.test "));
            Assert.Equal(1, checker.CachedAnswers);
        }
        finally
        {
            await dns.DisposeAsync();
        }
    }

    [Fact]
    public async Task Answers_with_TTL_0_are_asked_for_again()
    {
        // The class's dnsmasq answers with TTL 0.
        var checker = Checker(["bl.test"]);
        Assert.NotNull(await checker.CheckAsync(Ip("127.0.0.3")));
        Assert.NotNull(await checker.CheckAsync(Ip("127.0.0.3")));

        Assert.Equal(0, checker.CachedAnswers);
    }

    private static int Count(string text, string what) => text.Split('\n').Count(l => l.Contains(what, StringComparison.Ordinal));

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not met within 10 s");
            await Task.Delay(20);
        }
    }
}
