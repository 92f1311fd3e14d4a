using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Router.Actors.Delivery;

namespace Router.Actors.Tests.Delivery;

/// <summary>MxResolver against a real dnsmasq on loopback (RFC 5321 s5.1, RFC 7505).</summary>
public sealed class MxResolverTests(MxTestZone zone) : IClassFixture<MxTestZone>
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    // Generous: on a loaded 2-core box a lost AAAA answer would make a result partial and
    // cache it for the floor only, which the cache tests would read as a bug.
    private static MxResolverOptions Options(string server) => new()
    {
        NameServers = [server],
        QueryTimeout = TimeSpan.FromSeconds(5),
    };



    private MxResolver Resolver(MxResolverOptions? options = null, int seed = 1, TimeProvider? clock = null) =>
        new(options ?? Options(zone.Server), new Random(seed), clock);

    private static IReadOnlyList<MxHost> Hosts(MxResolution resolution) =>
        Assert.IsType<MxResolution.Resolved>(resolution).Hosts;

    private static string Reason(MxResolution resolution) =>
        Assert.IsType<MxResolution.TemporaryFailure>(resolution).Reason;

    [Fact]
    public async Task Mx_hosts_come_in_preference_order_on_the_mx_port()
    {
        var result = await Resolver(Options(zone.Server) with { MxPort = 2525 }).ResolveAsync("pref.test", Ct);

        var hosts = Hosts(result);
        Assert.Equal(["mx-a.pref.test", "mx-b.pref.test", "mx-c.pref.test"], hosts.Select(h => h.Name));
        Assert.Equal(["127.0.0.11", "127.0.0.12", "127.0.0.13"], hosts.Select(h => h.Addresses.Single().ToString()));
        Assert.All(hosts, h => Assert.Equal(2525, h.Port));
    }

    [Fact]
    public async Task Domain_names_are_matched_case_insensitively_and_without_the_root_dot()
    {
        var hosts = Hosts(await Resolver().ResolveAsync("PREF.Test.", Ct));

        Assert.Equal("mx-a.pref.test", hosts[0].Name);
    }

    [Fact]
    public async Task Equal_preference_hosts_both_appear_in_either_order()
    {
        var orders = new HashSet<string>();
        for (var seed = 0; seed < 20; seed++)
        {
            var hosts = Hosts(await Resolver(seed: seed).ResolveAsync("equal.test", Ct));
            Assert.Equal(["mx1.equal.test", "mx2.equal.test"], hosts.Select(h => h.Name).Order());
            orders.Add(string.Join(',', hosts.Select(h => h.Name)));
        }

        Assert.Equal(2, orders.Count);
    }

    [Fact]
    public async Task Equal_preference_hosts_come_in_a_new_order_for_each_attempt_while_the_answer_is_cached()
    {
        // RFC 5321 s5.1 MUST: a cached resolution gave every attempt the same order for its TTL,
        // so one of two equal MX hosts took all the mail (an audit: 38 of 38 messages).
        var server = await zone.StartAsync(
            [DnsmasqFixture.Mx("spread.test", "mx1.spread.test", 10), DnsmasqFixture.Mx("spread.test", "mx2.spread.test", 10),
             DnsmasqFixture.Mx("spread.test", "backup.spread.test", 20), DnsmasqFixture.Host("mx1.spread.test", "127.0.0.95"),
             DnsmasqFixture.Host("mx2.spread.test", "127.0.0.96"), DnsmasqFixture.Host("backup.spread.test", "127.0.0.97")],
            localTtl: 3600);
        var resolver = Resolver(Options(server));

        var orders = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var hosts = Hosts(await resolver.ResolveAsync("spread.test", Ct)).Select(h => h.Name).ToArray();
            Assert.Equal("backup.spread.test", hosts[^1]);
            orders.Add(string.Join(',', hosts));
        }

        Assert.Equal(["backup.spread.test", "mx1.spread.test", "mx2.spread.test"], orders.SelectMany(o => o.Split(',')).Distinct().Order());
        Assert.Equal(2, orders.Count);
        Assert.Equal(1, await MxQueriesAsync(resolver, server, "spread.test"));
    }

    [Fact]
    public async Task At_most_MaxHosts_hosts_are_returned_best_first()
    {
        var hosts = Hosts(await Resolver(Options(zone.Server) with { MaxHosts = 5 }).ResolveAsync("many.test", Ct));

        Assert.Equal(["mx1.many.test", "mx2.many.test", "mx3.many.test", "mx4.many.test", "mx5.many.test"], hosts.Select(h => h.Name));
    }

    [Fact]
    public async Task A_domain_without_mx_is_its_own_implicit_mx()
    {
        var hosts = Hosts(await Resolver().ResolveAsync("implicit.test", Ct));

        var host = Assert.Single(hosts);
        Assert.Equal("implicit.test", host.Name);
        Assert.Equal([IPAddress.Parse("127.0.0.30")], host.Addresses);
        Assert.Equal(25, host.Port);
    }

    [Fact]
    public async Task A_domain_without_mx_or_address_has_no_route()
    {
        // RFC 5321 s5.1: no MX and no usable implicit MX "MUST be reported as an error".
        var none = Assert.IsType<MxResolution.NoRoute>(await Resolver().ResolveAsync("txtonly.test", Ct));

        Assert.Contains("txtonly.test", none.Reason);
    }

    [Fact]
    public async Task Null_mx_means_the_domain_accepts_no_mail()
    {
        Assert.IsType<MxResolution.NullMx>(await Resolver().ResolveAsync("nullmx.test", Ct));
    }

    [Fact]
    public async Task Nxdomain_is_NoSuchDomain()
    {
        // dnsmasq answers NXDOMAIN for names under its --local=/test/ zone that it has no record for.
        Assert.IsType<MxResolution.NoSuchDomain>(await Resolver().ResolveAsync("nosuch.test", Ct));
    }

    [Fact]
    public async Task Refused_is_temporary_not_NoSuchDomain()
    {
        // Outside its local zones and with no upstream (--no-resolv), dnsmasq answers REFUSED.
        var reason = Reason(await Resolver().ResolveAsync("example.org", Ct));

        Assert.Contains("Refused", reason);
    }

    [Fact]
    public async Task Servfail_is_temporary()
    {
        await using var servfail = new ScriptedDnsServer(ScriptedDnsServer.ServFail);

        var reason = Reason(await Resolver(Options(servfail.Server)).ResolveAsync("pref.test", Ct));

        Assert.Contains("ServerFailure", reason);
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out_as_temporary()
    {
        await using var silent = new ScriptedDnsServer(responseCode: null);
        var options = Options(silent.Server) with { QueryTimeout = TimeSpan.FromMilliseconds(200) };

        var reason = Reason(await Resolver(options).ResolveAsync("pref.test", Ct));

        Assert.Contains("ConnectionTimeout", reason);
    }

    [Fact]
    public async Task Cancellation_is_not_reported_as_a_dns_failure()
    {
        await using var silent = new ScriptedDnsServer(responseCode: null);
        var resolver = Resolver(Options(silent.Server) with { QueryTimeout = TimeSpan.FromSeconds(30) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => resolver.ResolveAsync("pref.test", cts.Token));
    }

    [Fact]
    public async Task A_port_with_nothing_listening_is_temporary()
    {
        int port;
        using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            port = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        var options = Options($"127.0.0.1:{port}") with { QueryTimeout = TimeSpan.FromMilliseconds(200) };

        Assert.IsType<MxResolution.TemporaryFailure>(await Resolver(options).ResolveAsync("pref.test", Ct));
    }

    [Fact]
    public async Task Mx_hosts_that_do_not_exist_leave_no_route()
    {
        var none = Assert.IsType<MxResolution.NoRoute>(await Resolver().ResolveAsync("noaddr.test", Ct));

        Assert.Contains("ghost.noaddr.test", none.Reason);
    }

    [Fact]
    public async Task Mx_hosts_whose_lookup_fails_are_temporary_not_absent()
    {
        // The MX answer comes from a server that then fails every address lookup (SERVFAIL).
        await using var failing = new ScriptedDnsServer(ScriptedDnsServer.ServFail, mxExchange: "ghost.noaddr.test");

        var reason = Reason(await Resolver(Options(failing.Server)).ResolveAsync("noaddr.test", Ct));

        Assert.Contains("ServerFailure", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_mx_host_without_an_address_is_skipped_when_another_has_one()
    {
        var hosts = Hosts(await Resolver().ResolveAsync("partial.test", Ct));

        Assert.Equal(["real.partial.test"], hosts.Select(h => h.Name));
    }

    [Fact]
    public async Task Ipv4_addresses_come_before_ipv6()
    {
        var host = Assert.Single(Hosts(await Resolver().ResolveAsync("dual.test", Ct)));

        Assert.Equal([IPAddress.Parse("127.0.0.40"), IPAddress.IPv6Loopback], host.Addresses);
    }

    [Fact]
    public async Task Ipv6_can_be_turned_off()
    {
        var resolver = Resolver(Options(zone.Server) with { UseIpv6 = false });

        var host = Assert.Single(Hosts(await resolver.ResolveAsync("dual.test", Ct)));

        Assert.Equal([IPAddress.Parse("127.0.0.40")], host.Addresses);
    }

    [Fact]
    public async Task A_utf8_domain_is_looked_up_by_its_a_label()
    {
        var host = Assert.Single(Hosts(await Resolver().ResolveAsync("bücher.test", Ct)));

        Assert.Equal("mx.xn--bcher-kva.test", host.Name);
    }

    [Fact]
    public async Task A_static_route_to_an_address_overrides_dns()
    {
        var options = Options(zone.Server) with { StaticRoutes = new Dictionary<string, string> { ["routed.test"] = "127.0.0.99:2525" } };

        var host = Assert.Single(Hosts(await Resolver(options).ResolveAsync("routed.test", Ct)));

        Assert.Equal(new MxHost("127.0.0.99", host.Addresses, 2525), host);
        Assert.Equal([IPAddress.Parse("127.0.0.99")], host.Addresses);
    }

    [Fact]
    public async Task A_static_route_to_a_name_uses_that_hosts_addresses_not_its_mx()
    {
        var options = Options(zone.Server) with { StaticRoutes = new Dictionary<string, string> { ["routed.test"] = "relay.test:587" } };

        var host = Assert.Single(Hosts(await Resolver(options).ResolveAsync("routed.test", Ct)));

        Assert.Equal(("relay.test", 587), (host.Name, host.Port));
        Assert.Equal([IPAddress.Parse("127.0.0.70")], host.Addresses);
    }

    [Fact]
    public async Task A_static_route_to_a_name_without_address_defers_rather_than_bounces()
    {
        var options = Options(zone.Server) with { StaticRoutes = new Dictionary<string, string> { ["routed.test"] = "gone.test" } };

        var reason = Reason(await Resolver(options).ResolveAsync("routed.test", Ct));

        Assert.Contains("gone.test", reason);
    }

    [Fact]
    public async Task Parent_and_wildcard_static_routes_match_when_no_exact_route_does()
    {
        var options = Options(zone.Server) with
        {
            StaticRoutes = new Dictionary<string, string> { [".routed.test"] = "127.0.0.98:26", ["*"] = "[::1]:27" },
        };
        var resolver = Resolver(options);

        var sub = Assert.Single(Hosts(await resolver.ResolveAsync("deep.sub.routed.test", Ct)));
        var other = Assert.Single(Hosts(await resolver.ResolveAsync("pref.test", Ct)));

        Assert.Equal(("127.0.0.98", 26), (sub.Name, sub.Port));
        Assert.Equal([IPAddress.IPv6Loopback], other.Addresses);
        Assert.Equal(27, other.Port);
    }

    [Fact]
    public async Task An_address_literal_needs_no_dns()
    {
        await using var silent = new ScriptedDnsServer(responseCode: null);

        var host = Assert.Single(Hosts(await Resolver(Options(silent.Server)).ResolveAsync("[127.0.0.5]", Ct)));

        Assert.Equal([IPAddress.Parse("127.0.0.5")], host.Addresses);
    }

    private static Func<IPAddress, int, bool> Self(string address, int port = 25) =>
        (a, p) => a.Equals(IPAddress.Parse(address)) && p == port;

    [Fact]
    public async Task Hosts_of_equal_or_worse_preference_than_this_router_are_discarded()
    {
        // RFC 5321 s5.1: mx-b (20) is this router, so mx-b and mx-c (30) go; mx-a (10) stays.
        var options = Options(zone.Server) with { IsSelf = Self("127.0.0.12") };

        var hosts = Hosts(await Resolver(options).ResolveAsync("pref.test", Ct));

        Assert.Equal(["mx-a.pref.test"], hosts.Select(h => h.Name));
        Assert.Equal([10], hosts.Select(h => h.Preference));
    }

    [Fact]
    public async Task The_same_address_on_another_port_is_not_this_router()
    {
        var options = Options(zone.Server) with { IsSelf = Self("127.0.0.12", port: 2525) };

        var hosts = Hosts(await Resolver(options).ResolveAsync("pref.test", Ct));

        Assert.Equal(["mx-a.pref.test", "mx-b.pref.test", "mx-c.pref.test"], hosts.Select(h => h.Name));
    }

    [Theory]
    [InlineData("pref.test", "127.0.0.11")]     // the best MX
    [InlineData("equal.test", "127.0.0.22")]    // one of two best MX of equal preference, whatever the shuffle
    [InlineData("implicit.test", "127.0.0.30")] // the implicit MX
    [InlineData("[127.0.0.5]", "127.0.0.5")]    // an address literal
    public async Task Mail_whose_best_host_is_this_router_loops_back(string domain, string self)
    {
        for (var seed = 0; seed < 5; seed++)
        {
            var resolver = Resolver(Options(zone.Server) with { IsSelf = Self(self) }, seed);

            Assert.IsType<MxResolution.LoopsBack>(await resolver.ResolveAsync(domain, Ct));
        }
    }

    [Fact]
    public async Task A_static_route_to_this_router_loops_back()
    {
        var options = Options(zone.Server) with
        {
            StaticRoutes = new Dictionary<string, string> { ["routed.test"] = "127.0.0.99:2525" },
            IsSelf = Self("127.0.0.99", port: 2525),
        };

        Assert.IsType<MxResolution.LoopsBack>(await Resolver(options).ResolveAsync("routed.test", Ct));
    }

    [Fact]
    public async Task An_answer_is_cached_for_its_ttl()
    {
        var server = await zone.StartAsync([DnsmasqFixture.Mx("ttl.test", "mx.ttl.test", 10), DnsmasqFixture.Host("mx.ttl.test", "127.0.0.90")], localTtl: 120);

        await AssertCachedForAsync<MxResolution.Resolved>(server, Options(server) with { MinCacheTtl = TimeSpan.FromSeconds(1) }, "ttl.test", TimeSpan.FromSeconds(120));
    }

    [Fact]
    public async Task The_ttl_cached_is_the_one_received_however_late_it_is_read()
    {
        // DnsClient counts a record's TimeToLive down with each second of uptime that begins after
        // it was parsed; An_answer_is_cached_for_its_ttl failed when its answer straddled one.
        var record = new MxRecord(new ResourceRecordInfo("ttl.test", ResourceRecordType.MX, QueryClass.IN, 120, 16), 10, DnsString.Parse("mx.ttl.test"));
        await WaitUntil(() => record.TimeToLive < 120, TimeSpan.FromSeconds(3));

        Assert.Equal(TimeSpan.FromSeconds(120), DnsLookupClient.AnswerTtl([record]));
    }

    [Fact]
    public async Task A_zero_ttl_answer_is_cached_for_the_floor()
    {
        var server = await zone.StartAsync([DnsmasqFixture.Mx("zero.test", "mx.zero.test", 10), DnsmasqFixture.Host("mx.zero.test", "127.0.0.91")], localTtl: 0);

        await AssertCachedForAsync<MxResolution.Resolved>(server, Options(server) with { MinCacheTtl = TimeSpan.FromSeconds(5) }, "zero.test", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_long_ttl_is_capped_at_the_ceiling()
    {
        var server = await zone.StartAsync([DnsmasqFixture.Mx("long.test", "mx.long.test", 10), DnsmasqFixture.Host("mx.long.test", "127.0.0.92")], localTtl: 86400);

        await AssertCachedForAsync<MxResolution.Resolved>(server, Options(server) with { MaxCacheTtl = TimeSpan.FromHours(1) }, "long.test", TimeSpan.FromHours(1));
    }

    [Fact]
    public async Task Nxdomain_is_cached_for_the_floor()
    {
        var server = await zone.StartAsync([]);

        await AssertCachedForAsync<MxResolution.NoSuchDomain>(server, Options(server) with { MinCacheTtl = TimeSpan.FromSeconds(5) }, "nosuch.test", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_temporary_failure_is_not_cached()
    {
        await using var servfail = new ScriptedDnsServer(ScriptedDnsServer.ServFail);
        var resolver = Resolver(Options(servfail.Server));

        Assert.IsType<MxResolution.TemporaryFailure>(await resolver.ResolveAsync("pref.test", Ct));
        var afterFirst = servfail.Queries;
        Assert.IsType<MxResolution.TemporaryFailure>(await resolver.ResolveAsync("pref.test", Ct));

        Assert.True(servfail.Queries > afterFirst, "the second resolve should have asked the server again");
    }

    /// <summary>
    /// Resolves <paramref name="domain"/> to a <typeparamref name="TResolution"/>, again a second before
    /// <paramref name="lifetime"/> has passed on a fake clock, and once more a second after it: the second
    /// answer must be the cached first one without a query, the third must ask the server again.
    /// </summary>
    private async Task AssertCachedForAsync<TResolution>(string server, MxResolverOptions options, string domain, TimeSpan lifetime)
        where TResolution : MxResolution
    {
        var clock = new ManualClock();
        var resolver = Resolver(options, clock: clock);

        var first = Assert.IsType<TResolution>(await resolver.ResolveAsync(domain, Ct));
        clock.Advance(lifetime - TimeSpan.FromSeconds(1));
        var cached = await resolver.ResolveAsync(domain, Ct);
        var queriesWhileCached = await MxQueriesAsync(resolver, server, domain);
        clock.Advance(TimeSpan.FromSeconds(2));
        await resolver.ResolveAsync(domain, Ct);

        Assert.Equal(first.GetType(), cached.GetType());
        Assert.True(queriesWhileCached == 1, "not cached; server log:\n" + zone.LogOf(server));
        Assert.Equal(2, await MxQueriesAsync(resolver, server, domain));
    }

    /// <summary>
    /// How many MX queries for <paramref name="domain"/> the server has logged. dnsmasq logs in
    /// order, so once a fresh marker query shows up in its log, every earlier query is there too.
    /// </summary>
    private async Task<int> MxQueriesAsync(MxResolver resolver, string server, string domain)
    {
        var marker = $"marker-{Guid.NewGuid():N}.test";
        Assert.IsType<MxResolution.NoSuchDomain>(await resolver.ResolveAsync(marker, Ct));
        await WaitUntil(() => zone.LogOf(server).Contains($"query[MX] {marker} ", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        return CountOf(zone.LogOf(server), $"query[MX] {domain} ");
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal)) count++;
        return count;
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {timeout}");
            await timer.WaitForNextTickAsync();
        }
    }
}
