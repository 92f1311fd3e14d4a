using Akka.Configuration;
using Router.Actors.Delivery;

namespace Router.Actors.Configuration;

/// <summary>
/// Outbound delivery and queue settings: <c>router.relay</c>, <c>router.dns</c>,
/// <c>router.delivery</c> and <c>router.queue</c>. Defaults and explanations: config/akka.hocon.
/// </summary>
public sealed record DeliverySettings
{
    public IReadOnlyDictionary<string, string> Transport { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> DnsServers { get; init; } = [];
    public TimeSpan DnsTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public bool UseIpv6 { get; init; } = true;
    public int MxPort { get; init; } = 25;
    public int MaxMxHosts { get; init; } = 5;
    public int MaxConnectionsPerDestination { get; init; } = 20;

    /// <summary>router.delivery.initial-connections-per-destination: where a destination's concurrency starts before its attempts' outcomes raise or lower it (<see cref="DestinationConcurrency"/>).</summary>
    public int InitialConnectionsPerDestination { get; init; } = 5;

    /// <summary>router.delivery.max-connections: delivery attempts (and so outbound connections in use) at once on this node, over all destinations.</summary>
    public int MaxConnections { get; init; } = 100;
    public int MaxRecipientsPerTransaction { get; init; } = 50;
    public int MaxMessagesPerConnection { get; init; } = 100;
    public TimeSpan ConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public double RatePerDomain { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);
    public string StartTls { get; init; } = "opportunistic";
    public IReadOnlyDictionary<string, string> TlsPolicy { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<TimeSpan> RetrySchedule { get; init; } = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30), TimeSpan.FromHours(1)];
    public double RetryJitter { get; init; } = 0.1;
    public TimeSpan WarnAfter { get; init; } = TimeSpan.FromHours(4);
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromDays(5);
    public int SnapshotEvery { get; init; } = 200;
    public int MaxPersistsInFlight { get; init; } = 256;

    /// <summary>router.queue.body-sweep-interval: how often a node looks for stored bodies that no owner can need any more.</summary>
    public TimeSpan BodySweepInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// router.queue.body-sweep-grace: how long past a message's acceptance deadline its references
    /// are left alone before the sweep judges them (see <see cref="Storage.BodySweeper"/>).
    /// </summary>
    public TimeSpan BodySweepGrace { get; init; } = TimeSpan.FromHours(1);

    /// <summary>router.queue.store = "postgresql": a cluster, its journal, snapshots and bodies in PostgreSQL; else "sqlite", one node.</summary>
    public bool Clustered { get; init; }

    /// <summary>router.queue.lease-ttl: in a cluster, how long a domain shard's lease outlives its holder's last renewal (fencing).</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>router.queue.connection-string: required with PostgreSQL; "" with SQLite is &lt;data-dir&gt;/queue.db.</summary>
    public string ConnectionString { get; init; } = "";

    /// <summary>"require", "opportunistic" or "off" for a destination domain.</summary>
    public string TlsPolicyFor(string domain) => TlsPolicy.TryGetValue(domain, out var p) ? p : StartTls;

    /// <summary>
    /// The policy of one connection: the entry of its next hop ("host:port", <see cref="NextHop"/>)
    /// first, then its destination domain's. Without either, a connection that will send
    /// credentials (router.relay.auth) requires TLS with a valid certificate, whatever starttls
    /// says: a password goes only to the server it is meant for, and never in clear.
    /// </summary>
    public string TlsPolicyFor(string domain, string host, int port, bool authenticating) =>
        TlsPolicy.TryGetValue(NextHop.Key(host, port), out var hop) ? hop
        : authenticating && !TlsPolicy.ContainsKey(domain) ? "require"
        : TlsPolicyFor(domain);

    public static DeliverySettings FromConfig(Config config)
    {
        var r = config.GetConfig("router");
        var d = new DeliverySettings();
        Dictionary<string, string> Map(string path)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (domain, value) in r.Map(path)) map[domain.ToLowerInvariant()] = value.Text($"router.{path} \"{domain}\"");
            return map;
        }

        // A policy that is none of the three would be a mode of its own (plaintext where STARTTLS
        // is missing, any certificate): a misspelt "required" must not weaken "require".
        static string TlsPolicyValue(string value, string setting) => value.Trim().ToLowerInvariant() is var v && v is "off" or "opportunistic" or "require"
            ? v
            : throw new ConfigurationException($"{setting} must be off, opportunistic or require, not \"{value}\"");
        var tls = TlsPolicyValue(r.GetString("delivery.starttls", d.StartTls), "router.delivery.starttls");
        var mxPort = r.Int("delivery.mx-port", d.MxPort, min: 1, max: 65535);
        // A key with a port names a next hop ("smtp.provider.test:587", as relay.auth), any other a domain.
        var tlsPolicy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Map("delivery.tls-policy"))
        {
            var setting = $"router.delivery.tls-policy \"{key}\"";
            var name = key.Contains(':', StringComparison.Ordinal) ? SettingReads.Build(setting, () => NextHop.ParseKey(key, mxPort)) : key;
            tlsPolicy[name] = TlsPolicyValue(value, setting);
        }
        var schedule = r.HasPath("queue.retry-schedule")
            ? r.GetStringList("queue.retry-schedule").Select(RetryWait).ToArray()
            : d.RetrySchedule;
        if (schedule.Count == 0 || schedule.Any(t => t <= TimeSpan.Zero)) throw new ConfigurationException("router.queue.retry-schedule needs at least one positive duration");

        static TimeSpan RetryWait(string wait)
        {
            try
            {
                return ConfigurationFactory.ParseString("t = " + wait).GetTimeSpan("t");
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                throw new ConfigurationException($"router.queue.retry-schedule: \"{wait}\" is not a duration such as 30s, 5m or 4h");
            }
        }

        var transport = Map("relay.transport");
        foreach (var (domain, route) in transport) SettingReads.Build($"router.relay.transport \"{domain}\"", () => StaticRoute.Parse(route, mxPort));
        var dnsServers = r.HasPath("dns.servers") ? r.GetStringList("dns.servers").ToArray() : [];
        foreach (var server in dnsServers) SettingReads.Build("router.dns.servers", () => DnsLookupClient.ParseNameServer(server));

        var store = r.GetString("queue.store", "sqlite");
        if (store is not ("sqlite" or "postgresql")) throw new ConfigurationException($"router.queue.store must be \"sqlite\" or \"postgresql\", not \"{store}\"");
        var connection = r.GetString("queue.connection-string", "");
        if (store == "postgresql" && connection.Length == 0) throw new ConfigurationException("router.queue.connection-string is required with store = postgresql");
        if (store == "postgresql")
        {
            // Read as the start reads it (a bad Port= stopped the start with a stack trace); the
            // message names the key, never the value (it may be a password).
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(connection);
            }
            catch (ArgumentException e)
            {
                throw new ConfigurationException($"router.queue.connection-string: {e.Message}");
            }
        }

        var leaseTtl = r.Duration("queue.lease-ttl", d.LeaseTtl);
        if (leaseTtl < TimeSpan.FromSeconds(3)) throw new ConfigurationException($"router.queue.lease-ttl must be at least 3s, not {leaseTtl.TotalSeconds:0.###}s");
        var sweepInterval = r.Duration("queue.body-sweep-interval", d.BodySweepInterval);
        if (sweepInterval <= TimeSpan.Zero) throw new ConfigurationException("router.queue.body-sweep-interval must be a positive duration");
        var sweepGrace = r.Duration("queue.body-sweep-grace", d.BodySweepGrace);
        if (sweepGrace <= TimeSpan.Zero) throw new ConfigurationException("router.queue.body-sweep-grace must be a positive duration");

        return new DeliverySettings
        {
            Transport = transport,
            DnsServers = dnsServers,
            DnsTimeout = r.PositiveDuration("dns.timeout", d.DnsTimeout),
            UseIpv6 = r.Flag("dns.use-ipv6", d.UseIpv6),
            MxPort = mxPort,
            MaxMxHosts = r.Int("delivery.max-mx-hosts", d.MaxMxHosts, min: 1),
            MaxConnectionsPerDestination = r.Int("delivery.max-connections-per-destination", d.MaxConnectionsPerDestination, min: 1),
            MaxConnections = r.Int("delivery.max-connections", d.MaxConnections, min: 1),
            InitialConnectionsPerDestination = r.Int("delivery.initial-connections-per-destination", d.InitialConnectionsPerDestination, min: 1),
            MaxRecipientsPerTransaction = r.Int("delivery.max-recipients-per-transaction", d.MaxRecipientsPerTransaction, min: 1),
            MaxMessagesPerConnection = r.Int("delivery.max-messages-per-connection", d.MaxMessagesPerConnection, min: 1),
            ConnectionIdleTimeout = r.Duration("delivery.connection-idle-timeout", d.ConnectionIdleTimeout),
            RatePerDomain = r.Number("delivery.rate-per-domain", 0, min: 0),
            ConnectTimeout = r.PositiveDuration("delivery.connect-timeout", d.ConnectTimeout),
            CommandTimeout = r.PositiveDuration("delivery.command-timeout", d.CommandTimeout),
            DataTimeout = r.PositiveDuration("delivery.data-timeout", d.DataTimeout),
            StartTls = tls,
            TlsPolicy = tlsPolicy,
            RetrySchedule = schedule,
            RetryJitter = r.Number("queue.retry-jitter", d.RetryJitter, min: 0, max: 0.5),
            WarnAfter = r.PositiveDuration("queue.warn-after", d.WarnAfter),
            GiveUpAfter = r.PositiveDuration("queue.give-up-after", d.GiveUpAfter),
            SnapshotEvery = r.Int("queue.snapshot-every", d.SnapshotEvery, min: 10),
            MaxPersistsInFlight = r.Int("queue.max-persists-in-flight", d.MaxPersistsInFlight, min: 1),
            BodySweepInterval = sweepInterval,
            BodySweepGrace = sweepGrace,
            Clustered = store == "postgresql",
            ConnectionString = connection,
            LeaseTtl = leaseTtl,
        };
    }
}
