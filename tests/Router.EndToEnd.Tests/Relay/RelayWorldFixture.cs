using System.Net;
using Router.Actors.Tests.Delivery;
using Router.EndToEnd.Tests.Infrastructure;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// The world the relay tests deliver into: one real dnsmasq serving the relay.test zone, one
/// counting sink per MX host (each on its own 127.0.77.x address, all on the same MX port), and
/// three real router processes that resolve only through that dnsmasq: <see cref="Router"/>,
/// which trusts loopback clients (relays) and retries every second; <see cref="Expiring"/>, the
/// same on a compressed clock (delay notice after 2 s, give-up after 5 s), which also listens on
/// one of the MX addresses; and
/// <see cref="Untrusted"/>, which trusts only 10.0.0.0/8.
/// </summary>
public sealed class RelayWorldFixture : IAsyncLifetime
{
    public const int MaxRecipientsPerTransaction = 3;
    public const int MaxReceivedHeaders = 5;
    public static readonly TimeSpan WarnAfter = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(5);

    /// <summary>Sink name -> its address (last octet under 127.0.77.0/24). The MX hosts' A records point here.</summary>
    private static readonly Dictionary<string, int> SinkHosts = new()
    {
        ["pref-best"] = 1,
        ["pref-second"] = 2,
        // 3: fallback's best MX and refused's only one, where nothing listens
        ["fallback-second"] = 4,
        ["implicit"] = 5,
        ["static-dns"] = 6,
        ["static-route"] = 7,
        ["reuse"] = 8,
        ["multi"] = 9,
        ["retry"] = 10,
        ["bounce"] = 11,
        ["delay"] = 12,
        ["null-sender"] = 13,
        ["trusted"] = 14,
        // 17: Expiring's second MTA listener (on the MX port), the MX host of loop.relay.test
        ["echo"] = 18,
        // offers no DSN (the load generator's sink never does): NOTIFY=SUCCESS stops at the router
        ["success"] = 19,
    };

    /// <summary>Where <see cref="Expiring"/> also takes mail, on the MX port: an MX host that is the router itself.</summary>
    public static readonly IPAddress ExpiringItself = Address(17);

    /// <summary>Addresses where the Postfix interop tests run smtp-sink (statically routed).</summary>
    public static readonly IPAddress PostfixSink = Address(15);

    public static readonly IPAddress PostfixRejectingSink = Address(16);

    /// <summary>Sinks that refuse every recipient with this reply code.</summary>
    private static readonly Dictionary<string, int> Refusing = new() { ["bounce"] = 550, ["delay"] = 451, ["null-sender"] = 550, ["retry"] = 451 };

    private readonly DnsmasqFixture _dns = new();
    private readonly Dictionary<string, SmtpSink> _sinks = [];

    public RouterProcess Router { get; private set; } = null!;

    public RouterProcess Untrusted { get; private set; } = null!;

    /// <summary>Warns after <see cref="WarnAfter"/> and gives up after <see cref="GiveUpAfter"/>.</summary>
    public RouterProcess Expiring { get; private set; } = null!;

    public int MxPort { get; private set; }

    public string DnsServer { get; private set; } = "";

    public static IPAddress Address(int host) => IPAddress.Parse("127.0.77." + host);

    public static IPEndPoint EndPointOf(string sink, int port) => new(Address(SinkHosts[sink]), port);

    public SmtpSink Sink(string name) => _sinks[name];

    /// <summary>Stops a sink and starts a fresh one on the same address and port, accepting everyone.</summary>
    public async Task<SmtpSink> ReplaceSinkAsync(string name)
    {
        await _sinks[name].DisposeAsync();
        var sink = await TestSinks.StartAsync(EndPointOf(name, MxPort));
        _sinks[name] = sink;
        return sink;
    }

    public async Task InitializeAsync()
    {
        MxPort = TestSinks.FreePortOnAll(Enumerable.Range(1, 20).Select(Address));
        foreach (var (name, _) in SinkHosts)
        {
            var rules = Refusing.TryGetValue(name, out var code) ? new[] { $".*={code}" } : [];
            // The echo sink answers EHLO with the routers' own hostname, as a router sending to itself would.
            var hostName = name == "echo" ? new RouterOptions().Hostname : "sink-" + Address(SinkHosts[name]);
            _sinks[name] = await TestSinks.StartAsync(EndPointOf(name, MxPort), hostName, rules);
        }

        DnsServer = await _dns.StartAsync(
        [
            // Listed worst first: dnsmasq answers unsorted, the router must sort by preference.
            DnsmasqFixture.Mx("pref.relay.test", "mx2.pref.relay.test", 20),
            DnsmasqFixture.Mx("pref.relay.test", "mx1.pref.relay.test", 10),
            DnsmasqFixture.Host("mx1.pref.relay.test", Ip("pref-best")),
            DnsmasqFixture.Host("mx2.pref.relay.test", Ip("pref-second")),

            DnsmasqFixture.Mx("fallback.relay.test", "mx1.fallback.relay.test", 10),
            DnsmasqFixture.Mx("fallback.relay.test", "mx2.fallback.relay.test", 20),
            DnsmasqFixture.Host("mx1.fallback.relay.test", Address(3).ToString()),
            DnsmasqFixture.Host("mx2.fallback.relay.test", Ip("fallback-second")),

            // No MX: the A record is the implicit MX (RFC 5321 s5.1).
            DnsmasqFixture.Host("implicit.relay.test", Ip("implicit")),

            DnsmasqFixture.Mx("nullmx.relay.test", ".", 0),

            // The only MX host has an address where nothing listens: every connection is refused.
            DnsmasqFixture.Mx("refused.relay.test", "mx.refused.relay.test", 10),
            DnsmasqFixture.Host("mx.refused.relay.test", Address(3).ToString()),

            DnsmasqFixture.Mx("static.relay.test", "mx.static.relay.test", 10),
            DnsmasqFixture.Host("mx.static.relay.test", Ip("static-dns")),

            .. SimpleDomain("reuse"),
            .. SimpleDomain("multi"),
            .. SimpleDomain("retry"),
            .. SimpleDomain("bounce"),
            .. SimpleDomain("delay"),
            .. SimpleDomain("null-sender"),
            .. SimpleDomain("trusted"),
            .. SimpleDomain("echo"),
            .. SimpleDomain("success"),

            // The best MX is Expiring itself; then an MX host where nothing listens, with Expiring as its backup.
            DnsmasqFixture.Mx("loop.relay.test", "mx.loop.relay.test", 10),
            DnsmasqFixture.Host("mx.loop.relay.test", ExpiringItself.ToString()),
            DnsmasqFixture.Mx("backup.relay.test", "mx1.backup.relay.test", 10),
            DnsmasqFixture.Mx("backup.relay.test", "mx2.backup.relay.test", 20),
            DnsmasqFixture.Host("mx1.backup.relay.test", Address(3).ToString()),
            DnsmasqFixture.Host("mx2.backup.relay.test", ExpiringItself.ToString()),
        ]);

        var common = $$"""
            router {
              dns { servers = ["{{DnsServer}}"], timeout = 2s, use-ipv6 = off }
              relay.transport {
                "static.relay.test" = "{{Ip("static-route")}}:{{MxPort}}"
                "postfix.relay.test" = "{{PostfixSink}}:{{MxPort}}"
                "postfix-reject.relay.test" = "{{PostfixRejectingSink}}:{{MxPort}}"
              }
              delivery {
                mx-port = {{MxPort}}
                max-connections-per-destination = 2
                max-recipients-per-transaction = {{MaxRecipientsPerTransaction}}
                connection-idle-timeout = 60s
                connect-timeout = 2s
                command-timeout = 20s
                data-timeout = 20s
              }
              queue { retry-schedule = [1s], retry-jitter = 0 }
              limits.max-received-headers = {{MaxReceivedHeaders}}
            }
            """;
        var expiring = common + $$"""

            router.queue { warn-after = {{WarnAfter.TotalSeconds}}s, give-up-after = {{GiveUpAfter.TotalSeconds}}s }
            """;
        // One after another: three JIT-heavy starts at once on a busy machine can each miss the start timeout.
        Router = await RouterProcess.StartAsync(new RouterOptions
        {
            // Aliases for the success notices: one to a local mailbox and a remote address, one to a remote address.
            ExtraHocon = common + """

                router.aliases {
                  "expand@example.test" = ["bob@example.test", "expanded@success.relay.test"]
                  "forward@example.test" = ["forwarded@success.relay.test"]
                }
                """,
        });
        Expiring = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = expiring, ExtraEndpoints = [$"{ExpiringItself}:{MxPort}"] });
        Untrusted = await RouterProcess.StartAsync(new RouterOptions { TrustedNetworks = ["10.0.0.0/8"], ExtraHocon = common });
    }

    public async Task DisposeAsync()
    {
        // RELAY_TEST_LOGS=folder keeps the routers' output for a post-mortem.
        if (Environment.GetEnvironmentVariable("RELAY_TEST_LOGS") is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            if (Router is not null) await File.WriteAllTextAsync(Path.Combine(logs, "relay-world-router.log"), Router.Output);
            if (Untrusted is not null) await File.WriteAllTextAsync(Path.Combine(logs, "relay-world-untrusted.log"), Untrusted.Output);
            if (Expiring is not null) await File.WriteAllTextAsync(Path.Combine(logs, "relay-world-expiring.log"), Expiring.Output);
        }
        Router?.Dispose();
        Expiring?.Dispose();
        Untrusted?.Dispose();
        foreach (var sink in _sinks.Values) await sink.DisposeAsync();
        await _dns.DisposeAsync();
    }

    private static string Ip(string sink) => Address(SinkHosts[sink]).ToString();

    private static string[] SimpleDomain(string sink) =>
    [
        DnsmasqFixture.Mx($"{sink}.relay.test", $"mx.{sink}.relay.test", 10),
        DnsmasqFixture.Host($"mx.{sink}.relay.test", Ip(sink)),
    ];
}

/// <summary>The relay test classes that share one <see cref="RelayWorldFixture"/> (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class RelayWorldCollection : ICollectionFixture<RelayWorldFixture>
{
    public const string Name = "relay world";
}
