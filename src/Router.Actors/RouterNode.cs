using System.Data.Common;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Coordination;
using Akka.DistributedData;
using Akka.Event;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using Microsoft.Data.Sqlite;
using Router.Actors.Configuration;
using Router.Actors.Delivery;
using Router.Actors.Dnsbl;
using Router.Actors.Mailbox;
using Router.Actors.Relay;
using Router.Actors.Routing;
using Router.Actors.Security;
using Router.Actors.Sharding;
using Router.Actors.Smtp;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors;

/// <summary>
/// One Router node: the actor system (a cluster member; alone it joins itself), the sharded
/// owners (mailboxes), the group-commit file writer and the SMTP listeners. Start it, and stop it
/// with <see cref="StopAsync"/>, which drains the listeners before the actors go.
/// </summary>
public sealed class RouterNode : IAsyncDisposable
{
    private readonly List<IActorRef> _listeners = [];
    private DurableFileWriter? _writer;
    private IMessageStore? _store;
    private ShardLeases? _leases;
    private DrainingMembers? _draining;

    private RouterNode(ActorSystem system, RouterSettings settings)
    {
        System = system;
        Settings = settings;
    }

    public ActorSystem System { get; }

    public RouterSettings Settings { get; }

    public IReadOnlyList<IPEndPoint> SmtpEndpoints { get; private set; } = [];

    public IReadOnlyList<IPEndPoint> SubmissionEndpoints { get; private set; } = [];

    public IReadOnlyList<IPEndPoint> TlsEndpoints { get; private set; } = [];

    public DurableFileWriter Writer => _writer!;

    /// <summary>The memory the bodies being received may hold, shared by every session of the node.</summary>
    public BodyMemoryBudget BodyBudget { get; private set; } = null!;

    /// <summary>The node's delivery slots (router.delivery.max-connections), shared by its destination queues.</summary>
    public DeliverySlots DeliverySlots { get; private set; } = null!;

    /// <summary>The shard region of the destination-domain queues.</summary>
    public IActorRef Domains { get; private set; } = ActorRefs.Nobody;

    /// <summary>The shard region of the local mailboxes.</summary>
    public IActorRef Mailboxes { get; private set; } = ActorRefs.Nobody;

    /// <summary>What happens to each recipient; its tables can be reloaded while the node runs (<see cref="Reload"/>).</summary>
    public RoutingPolicy Routing { get; private set; } = null!;

    private SmtpSecurity _security = SmtpSecurity.Disabled;

    /// <summary>router.relay.auth as the domain queues use it; replaced on SIGHUP.</summary>
    private RelayCredentials _relayCredentials = RelayCredentials.None;

    /// <summary>Queue administration for the domain queues of the whole cluster.</summary>
    public Admin.QueueAdmin Queue => new(System, Domains, TimeSpan.FromSeconds(10));

    /// <summary>The members this node sees up and the owners (shards, entities) it runs.</summary>
    public Task<Admin.Ownership> OwnershipAsync() => Admin.Ownership.OfAsync(System, Mailboxes, Domains, TimeSpan.FromSeconds(10));

    /// <summary>
    /// The journal, snapshot store and remembered-entities store: SQLite under the data folder by
    /// default (WAL mode, one writer), or PostgreSQL for a cluster.
    /// </summary>
    private static (Config Config, Setup? Setup) PersistenceConfig(DeliverySettings delivery, RouterSettings settings)
    {
        Setup? setup = null;
        var connection = delivery.ConnectionString;
        string provider;
        int parallelism;
        if (delivery.Clustered)
        {
            provider = "PostgreSQL.15";
            parallelism = 8;
        }
        else
        {
            Directory.CreateDirectory(settings.DataDir);
            if (connection.Length == 0) connection = $"Data Source={Path.Combine(settings.DataDir, "queue.db")}";
            using (var db = new SqliteConnection(connection))
            {
                db.Open();
                using var pragma = db.CreateCommand();
                pragma.CommandText = "PRAGMA journal_mode=WAL;";
                pragma.ExecuteNonQuery();
            }
            provider = "SQLite.MS";
            parallelism = 1;
            setup = SqliteSetup(connection);
        }
        var quoted = "\"" + connection.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        return (ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql { connection-string = {{quoted}}, provider-name = "{{provider}}", auto-initialize = on, parallelism = {{parallelism}} }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql { connection-string = {{quoted}}, provider-name = "{{provider}}", auto-initialize = on }
              }
            }
            router.shard-lease.lease-class = "{{typeof(PostgresShardLease).AssemblyQualifiedName}}"
            {{ReplayKeepsEveryEvent("akka.persistence.journal.sql")}}
            akka.cluster.sharding {
              remember-entities-store = eventsourced
              journal-plugin-id = "akka.persistence.journal.sql"
              snapshot-plugin-id = "akka.persistence.snapshot-store.sql"
            }
            """), setup);
    }

    /// <summary>
    /// A queue's recovery replays every event of its journal. Akka's default replay filter
    /// (repair-by-discard-old) drops the events of a writer that wrote again after a newer one,
    /// taking them for a zombie's: when a paused node resumed and wrote before its shard was
    /// stopped, the queue that took over lost the envelopes written after that (an audit saw two
    /// messages that had got 250 lost, and delivered ones bounced). Applied in sequence order,
    /// every event counts: a delivery may be repeated, nothing accepted is dropped. A warning is
    /// still logged for each such event.
    /// </summary>
    internal static string ReplayKeepsEveryEvent(string journalPath) => $"{journalPath}.replay-filter.mode = warn";

    /// <summary>The shard hand-off timeout derived from the owners' deadline (<see cref="RouterSettings.ShardHandOffTimeout"/>), unless the configuration sets one.</summary>
    internal static Config ShardingConfig(Config config, RouterSettings settings) =>
        config.HasPath("akka.cluster.sharding.handoff-timeout")
            ? Config.Empty
            : ConfigurationFactory.ParseString($"akka.cluster.sharding.handoff-timeout = {settings.ShardHandOffTimeout.TotalMilliseconds:0}ms");

    /// <summary>
    /// SQLite allows one writer at a time; the journal, its deletes and the snapshot store each
    /// open their own connections. Without a busy timeout a writer that finds the lock taken is
    /// retried by Microsoft.Data.Sqlite after a fixed 150 ms sleep, which stalls the journal under
    /// load; with one, SQLite waits for the lock itself in steps of a few milliseconds.
    /// </summary>
    private static MultiDataOptionsSetup SqliteSetup(string connection)
    {
        var options = new DataOptions()
            .UseConnectionString("SQLite.MS", connection)
            .UseAfterConnectionOpened(OnSqliteOpened, (c, _) =>
            {
                OnSqliteOpened(c);
                return Task.CompletedTask;
            });
        var setup = new MultiDataOptionsSetup();
        setup.AddDataOptions("akka.persistence.journal.sql", options);
        setup.AddDataOptions("akka.persistence.snapshot-store.sql", options);
        return setup;
    }

    private static void OnSqliteOpened(DbConnection connection)
    {
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA busy_timeout = 30000; PRAGMA synchronous = FULL;";
        pragma.ExecuteNonQuery();
    }

    /// <summary>Starts a node; the configuration is read and checked (<see cref="NodeConfiguration.Read"/>) before anything is created.</summary>
    public static async Task<RouterNode> StartAsync(Config config, RouterSettings settings, CancellationToken ct = default)
    {
        var configuration = NodeConfiguration.Read(config, settings);
        var (persistence, setup) = PersistenceConfig(configuration.Delivery, settings);
        // The node joins its seed nodes itself, once it is ready to host shards (StartServicesAsync).
        var full = ConfigurationFactory.ParseString("akka.cluster.seed-nodes = []")
            .WithFallback(ShardingConfig(config, settings))
            .WithFallback(persistence)
            .WithFallback(config)
            .WithFallback(SessionDispatcher.Config(SessionDispatcher.Applies(settings, configuration.Delivery)))
            .WithFallback(QueueSerializer.Config)
            .WithFallback(SqlPersistence.DefaultConfiguration)
            .WithFallback(ClusterSharding.DefaultConfig())
            .WithFallback(DistributedData.DefaultConfig());
        var bootstrap = BootstrapSetup.Create().WithConfig(full);
        var system = ActorSystem.Create("router", setup is null ? ActorSystemSetup.Create(bootstrap) : bootstrap.And(setup));
        var node = new RouterNode(system, settings);
        try
        {
            await node.StartServicesAsync(configuration, ct).ConfigureAwait(false);
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return node;
    }

    private async Task StartServicesAsync(NodeConfiguration configuration, CancellationToken ct)
    {
        foreach (var warning in configuration.Warnings) System.Log.Warning(warning);
        var delivery = configuration.Delivery;
        var cluster = Cluster.Get(System);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());

        // One node: bodies in the spool log, local mailboxes get them in memory. Cluster: bodies in
        // PostgreSQL, where the owner of any mailbox or domain, on any node, can read them, and one
        // Maildir folder that every node writes into.
        var clustered = delivery.Clustered;
        // One router per data-dir: the spool's lock comes first, before the Maildir's crash
        // recovery, which would otherwise link and remove files under a router already running.
        if (!clustered) _store = OpenSpool();
        Directory.CreateDirectory(Settings.MaildirRoot);
        _writer = new DurableFileWriter(Settings.MaildirRoot, Settings.UseSyncfs, Settings.MaxCommitBatch, shared: clustered, Settings.DropWrittenPages);
        var writer = _writer;
        if (writer.Recovery is { Linked: > 0 } or { AlreadyDelivered: > 0 } or { Discarded: > 0 })
        {
            System.Log.Warning("maildir: after an unclean stop, {0} complete messages linked from tmp/ into new/ (acknowledged, or about to be), {1} already in new/ or cur/, {2} partial files (never acknowledged) removed from tmp/",
                writer.Recovery.Linked, writer.Recovery.AlreadyDelivered, writer.Recovery.Discarded);
        }
        var connectionString = delivery.ConnectionString;
        var warm = clustered ? WarmUpPersistenceAsync(connectionString) : Task.CompletedTask;
        _store ??= await PostgresMessageStore.OpenAsync(connectionString).ConfigureAwait(false);
        var store = _store;
        // Join only when warm: shards can be handed to this node as soon as it is up, and the
        // coordinators' writes need every member's replicator, which starts with the regions below.
        await warm.ConfigureAwait(false);
        var seeds = configuration.SeedNodes;
        if (seeds.Count == 0) cluster.Join(cluster.SelfAddress);
        else cluster.JoinSeedNodes(seeds);
        try
        {
            await up.Task.WaitAsync(Settings.ClusterJoinTimeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var what = seeds.Count == 0 ? "form a cluster of its own" : "join its seed nodes " + string.Join(", ", seeds);
            throw new TimeoutException($"not a cluster member after {Settings.ClusterJoinTimeout.TotalSeconds:0.#} s (router.cluster-join-timeout): could not {what}");
        }

        // Entities stop for a hand-off or passivation only once their writes in flight are done.
        var sharding = ClusterSharding.Get(System);
        var shardingSettings = ClusterShardingSettings.Create(System);
        if (clustered) _draining = DrainingMembers.Start(System);
        IShardAllocationStrategy Allocation()
        {
            var strategy = sharding.DefaultShardAllocationStrategy(shardingSettings);
            return _draining is null ? strategy : new DrainingAwareAllocation(strategy, _draining, cluster.SelfAddress);
        }
        var mailboxes = Mailboxes = await sharding.StartAsync(
            "mailbox",
            key => MailboxActor.Props(key, Settings.MaildirRoot, Settings.Hostname, writer, store),
            shardingSettings,
            new MailboxActor.MessageExtractor(),
            Allocation(),
            HandOffStop.Instance).ConfigureAwait(false);

        var domainSharding = shardingSettings.WithRememberEntities(true);
        if (clustered)
        {
            // A domain shard runs only where its lease is held (fencing: ShardLeases).
            _leases = await ShardLeases.StartAsync(System, connectionString, delivery.LeaseTtl).ConfigureAwait(false);
            domainSharding = domainSharding.WithLeaseSettings(new LeaseUsageSettings(ShardLeases.ConfigPath, _leases.Interval));
        }

        var policy = Routing = new RoutingPolicy(Settings);
        var resolver = new MxResolver(new MxResolverOptions
        {
            NameServers = delivery.DnsServers,
            MxPort = delivery.MxPort,
            MaxHosts = delivery.MaxMxHosts,
            QueryTimeout = delivery.DnsTimeout,
            StaticRoutes = delivery.Transport,
            UseIpv6 = delivery.UseIpv6,
            IsSelf = new SelfEndpoints([.. Settings.SmtpEndpoints, .. Settings.SubmissionEndpoints, .. Settings.TlsEndpoints]).Contains,
        });
        MessageHandoff? handoff = null;
        var notices = new DsnDispatcher(Settings, policy, () => handoff!);
        // The lease check rebuilds the lease name Akka gives each shard: the same type name and extractor as the region's.
        const string domainType = "domain";
        var domainExtractor = new DomainDeliveryActor.MessageExtractor();
        var domainServices = new DomainServices(Settings, delivery, resolver, store, notices, configuration.RelayCredentials)
        {
            LeaseCheck = _leases is { } leases ? leases.HolderCheck(System, domainType, domainExtractor) : null,
        };
        DeliverySlots = domainServices.Slots;
        _relayCredentials = configuration.RelayCredentials;
        LogRelayCredentials(_relayCredentials);
        Domains = await sharding.StartAsync(
            domainType,
            domain => DomainDeliveryActor.Props(domain, domainServices),
            domainSharding,
            domainExtractor,
            Allocation(),
            HandOffStop.Instance).ConfigureAwait(false);
        var relay = System.ActorOf(RelayActor.Props(store, Domains, mailboxes), "relay");
        System.ActorOf(BodySweeper.Props(store, Domains, delivery.BodySweepInterval, delivery.BodySweepGrace), "body-sweeper");

        // On one node local mailboxes are written without the mailbox actors' hops (MaildirDelivery).
        var direct = clustered ? null : new MaildirDelivery(Settings.MaildirRoot, Settings.Hostname, writer);
        var services = new SmtpServices(Settings, policy, configuration.Trusted, mailboxes, relay, clustered, direct)
        {
            Limits = new ClientLimits(Settings, maxConnections: ConnectionCap()),
            Security = _security = LoadSecurity(configuration.Dkim),
            DeliveredNotices = new DeliveredNotices(notices),
            Dnsbl = StartDnsbl(configuration.Dnsbl, delivery),
        };
        handoff = services.Handoff;
        BodyBudget = services.BodyBudget;
        SmtpEndpoints = Bind(Settings.SmtpEndpoints, SmtpEndpointKind.Mta, "smtp-listener", services);
        SubmissionEndpoints = Bind(Settings.SubmissionEndpoints, SmtpEndpointKind.Submission, "submission-listener", services);
        TlsEndpoints = Bind(Settings.TlsEndpoints, SmtpEndpointKind.ImplicitTlsSubmission, "submissions-listener", services);
    }

    /// <summary><c>limits.max-connections</c>, or fewer when the open-file limit leaves no room for them (with a warning).</summary>
    private int ConnectionCap()
    {
        if (DescriptorBudget.ConnectionCap(Settings.MaxConnections) is not { } budget) return Settings.MaxConnections;
        if (Settings.MaxConnections == 0) return budget.Cap; // "no limit": the open-file limit's room is the limit
        System.Log.Warning(
            "open files are limited to {0} (RLIMIT_NOFILE) and {1} are open: at most {2} SMTP connections at once instead of {3} (router.limits.max-connections), so that connections cannot take the descriptors the runtime and deliveries need; raise the limit (LimitNOFILE= in systemd, ulimit -n) to allow more",
            budget.Limit, budget.InUse, budget.Cap, Settings.MaxConnections);
        return budget.Cap;
    }

    /// <summary>The DNSBL lookups of untrusted clients, through the name servers of router.dns; null when router.smtp.dnsbl names no list.</summary>
    private DnsblChecker? StartDnsbl(IReadOnlyList<DnsblSite> sites, DeliverySettings delivery)
    {
        if (sites.Count == 0) return null;
        System.Log.Info("DNSBL: untrusted clients of the MTA endpoints are looked up in {0}", string.Join(", ", sites));
        Admin.RouterMetrics.TrackDnsbl(sites.Select(s => s.Zone));
        var log = System.Log;
        return new DnsblChecker(sites, DnsLookupClient.Create(delivery.DnsServers, delivery.DnsTimeout), warning => log.Warning("{0}", warning));
    }

    /// <summary>
    /// The first use of the journal and snapshot store creates their tables (auto-initialize).
    /// Nodes starting together on an empty database would race in CREATE TABLE IF NOT EXISTS (a
    /// unique violation in pg_type, logged as "Failed to initialize SQL Journal"): the warm-up
    /// runs under a PostgreSQL advisory lock, one node at a time.
    /// </summary>
    private async Task WarmUpPersistenceAsync(string connectionString)
    {
        try
        {
            await using var schemaLock = await PostgresSchemaLock.AcquireAsync(connectionString).ConfigureAwait(false);
            var took = await PersistenceWarmUp.RunAsync(System, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            System.Log.Info("journal and snapshot store ready in {0:0} ms", took.TotalMilliseconds);
        }
        catch (Exception e)
        {
            // Not fatal: the shards handed to this node then wait for the plugins themselves.
            System.Log.Warning("journal and snapshot store not ready: {0}", e.Message);
        }
    }

    private IReadOnlyList<IPEndPoint> Bind(IReadOnlyList<IPEndPoint> endpoints, SmtpEndpointKind kind, string name, SmtpServices services)
    {
        var bound = new List<IPEndPoint>();
        for (var i = 0; i < endpoints.Count; i++)
        {
            var socket = SmtpListenerActor.Listen(endpoints[i]);
            var endpoint = (IPEndPoint)socket.LocalEndPoint!;
            _listeners.Add(System.ActorOf(SmtpListenerActor.Props(socket, services, kind), i == 0 ? $"{name}-{endpoint.Port}" : $"{name}-{endpoint.Port}-{i}"));
            bound.Add(endpoint);
        }
        return bound;
    }

    /// <summary>The server certificate (configured, or self-signed on first start), the users file and the DKIM signers.</summary>
    private SmtpSecurity LoadSecurity(DkimMessageSigner? dkim)
    {
        var security = Settings.Security;
        var certificate = LoadCertificate(security);
        var users = new UserStore(security.UsersFileIn(Settings.DataDir), warning => System.Log.Warning("{0}", warning));
        users.Load();
        if (dkim is not null) System.Log.Info("DKIM: signing for {0}", string.Join(", ", security.Dkim.Keys));
        return new SmtpSecurity(security, certificate, users, dkim);
    }

    private X509Certificate2 LoadCertificate(SecuritySettings security)
    {
        var (certificate, generated) = ServerCertificate.Load(security.TlsCertificate, security.TlsKey, Settings.DataDir, Settings.Hostname);
        if (generated is not null)
            System.Log.Info("TLS: no router.tls.certificate configured; generated a self-signed certificate for {0} in {1}", Settings.Hostname, generated);
        else
            System.Log.Info("TLS: certificate {0}", ServerCertificate.Describe(certificate));
        return certificate;
    }

    /// <summary>
    /// SIGHUP: the configuration read again (<paramref name="config"/>, <paramref name="settings"/>)
    /// is checked as a start would check it, then its routing tables and TLS certificate replace
    /// those in use. When anything would not load, now or at the next start, nothing changes.
    /// Returns what is now in use.
    /// </summary>
    public string Reload(Config config, RouterSettings settings)
    {
        var configuration = NodeConfiguration.Read(config, settings);
        var certificate = LoadCertificate(settings.Security);
        _security.ReloadCertificate(certificate);
        Routing.Reload(settings);
        _relayCredentials.Replace(configuration.RelayCredentials);
        LogRelayCredentials(_relayCredentials);
        foreach (var warning in configuration.Warnings) System.Log.Warning(warning);
        _security.Users?.Load();
        return $"{settings.RoutingSummary}; TLS certificate {ServerCertificate.Describe(certificate)}; relay.auth for {_relayCredentials.Count} next hops";
    }

    private void LogRelayCredentials(RelayCredentials credentials)
    {
        foreach (var (nextHop, user) in credentials.Users)
            System.Log.Info("relay.auth: AUTH as {0} at {1} (after STARTTLS only)", user, nextHop);
    }

    /// <summary>
    /// Tells the cluster's members that this node drains (they allocate no more shards to it:
    /// <see cref="DrainingMembers"/>), stops accepting, lets transactions in flight finish (up to
    /// the grace; a message waiting for its owners gets their answer), and only then leaves the
    /// cluster: the shards of this node are handed over (coordinated shutdown) once its own
    /// sessions no longer need them.
    /// </summary>
    public async Task StopAsync()
    {
        if (_draining is not null && !System.WhenTerminated.IsCompleted)
        {
            var (noted, asked) = await DrainingMembers.TellAllAsync(Cluster.Get(System), TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            System.Log.Info("draining: {0} of {1} members allocate no more shards to this node", noted, asked);
        }
        var grace = Settings.ShutdownGrace + Settings.DeliveryAckTimeout + TimeSpan.FromSeconds(5);
        // An actor system that has stopped (the cluster downed this node) has no listener to wait for.
        var drained = Task.WhenAll(_listeners.Select(async l =>
        {
            try
            {
                await l.Ask<SmtpListenerActor.Unbound>(SmtpListenerActor.Unbind.Instance, grace).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // The listener already stopped, or its grace ran out: nothing more to wait for.
            }
        }));
        await Task.WhenAny(drained, System.WhenTerminated).ConfigureAwait(false);
        _listeners.Clear();
        System.Log.Info("sessions drained; handing over shards and leaving the cluster");
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The spool log's usage on one node; null in a cluster (bodies in PostgreSQL).</summary>
    public SpoolUsage? SpoolUsage => (_store as SpoolLog)?.Usage;

    private SpoolLog OpenSpool()
    {
        var spool = new SpoolLog(Settings.DataDir, Settings.MaxCommitBatch);
        System.Log.Info("spool: {0} queued references recovered{1}", spool.Recovered.References,
            spool.Recovered.DroppedBytes > 0 ? $"; {spool.Recovered.DroppedBytes} bytes at segment ends that form no whole record (a write cut short by a crash) dropped" : "");
        foreach (var (segment, offset, length) in spool.Damaged)
        {
            System.Log.Warning("spool: {0}: {1} damaged bytes at offset {2} skipped; the messages stored there are lost and will be returned to their senders", segment, length, offset);
        }
        return spool;
    }

    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        _writer?.Dispose();
        _writer = null;
        if (_store is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        (_store as IDisposable)?.Dispose();
        _store = null;
        if (_leases is not null) await _leases.DisposeAsync().ConfigureAwait(false);
        _leases = null;
    }
}
