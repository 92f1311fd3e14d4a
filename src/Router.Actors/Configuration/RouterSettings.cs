using System.Net;
using Akka.Configuration;

namespace Router.Actors.Configuration;

/// <summary>
/// The <c>router { }</c> section of the configuration, read once at start. Each property names
/// its HOCON path; defaults and one-line explanations live in config/akka.hocon.
/// </summary>
public sealed record RouterSettings
{
    public required string Hostname { get; init; }
    public required string DataDir { get; init; }
    public required IReadOnlyList<IPEndPoint> SmtpEndpoints { get; init; }

    /// <summary>router.http.endpoint: the loopback admin endpoint (health, metrics, queue); null = off.</summary>
    public IPEndPoint? HttpEndpoint { get; init; }

    /// <summary>Message submission endpoints (RFC 6409, STARTTLS then AUTH required).</summary>
    public IReadOnlyList<IPEndPoint> SubmissionEndpoints { get; init; } = [];

    /// <summary>Submission over implicit TLS (RFC 8314 s3.3, port 465).</summary>
    public IReadOnlyList<IPEndPoint> TlsEndpoints { get; init; } = [];

    /// <summary>
    /// router.smtp.mta-auth: AUTH on the MTA endpoints too. Off by default, as Postfix's
    /// smtpd_sasl_auth_enable: port 25 takes mail from other servers, users authenticate on submission.
    /// </summary>
    public bool MtaAuth { get; init; }

    /// <summary>
    /// router.smtp.sessions-on-socket-threads: SMTP sessions run on the socket threads that complete
    /// their reads (<see cref="Smtp.SessionDispatcher"/>; the host turns on inline socket completions).
    /// A single node's only: see <see cref="Smtp.SessionDispatcher.Applies"/>.
    /// </summary>
    public bool SessionsOnSocketThreads { get; init; } = true;

    /// <summary>
    /// router.smtp.dnsbl as written: DNS blocklists ("zone" or "zone=d.d.d.d", Postfix's
    /// reject_rbl_client) asked about untrusted clients of the MTA endpoints; parsed and checked by
    /// <see cref="NodeConfiguration"/>. Empty = none.
    /// </summary>
    public IReadOnlyList<string> Dnsbl { get; init; } = [];
    public required IReadOnlySet<string> LocalDomains { get; init; }
    public required IReadOnlySet<string> Mailboxes { get; init; }
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Aliases { get; init; }
    public required IReadOnlyDictionary<string, string> CatchAll { get; init; }
    public required string Postmaster { get; init; }

    /// <summary><see cref="Postmaster"/> as an address (checked to be one when the settings are read).</summary>
    public Router.Protocol.MailAddress PostmasterAddress => Router.Protocol.MailAddress.FromText(Postmaster);

    /// <summary>The routing tables' sizes, as the start, a reload and `router check` report them.</summary>
    public string RoutingSummary => $"{LocalDomains.Count} local domains, {Mailboxes.Count} mailboxes, {Aliases.Count} aliases, {CatchAll.Count} catch-alls";

    /// <summary>
    /// router.recipient-delimiter: characters that start an address extension at a local domain
    /// (user+news@domain is user@domain when no mailbox or alias has the whole name; Postfix's
    /// recipient_delimiter). Empty = none.
    /// </summary>
    public string RecipientDelimiter { get; init; } = "+";
    public required IReadOnlyList<string> TrustedNetworks { get; init; }
    public long MaxMessageSize { get; init; } = 25L * 1024 * 1024;

    /// <summary>router.limits.min-free-space: below this much free space where mail is written, MAIL gets 452 4.3.1; 0 = no check.</summary>
    public long MinFreeSpace { get; init; } = 25L * 1024 * 1024 * 3 / 2;

    /// <summary>router.limits.max-body-memory: bytes the bodies being received may hold in memory, all sessions together; more gets 452 4.3.1.</summary>
    public long MaxBodyMemory { get; init; } = long.MaxValue;
    public int MaxRecipients { get; init; } = 1000;
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public int MaxErrors { get; init; } = 10;
    public int MaxReceivedHeaders { get; init; } = 50;
    public int MaxConnections { get; init; } = 1000;
    public int MaxConnectionsPerClient { get; init; } = 50;
    public int ConnectionRatePerMinute { get; init; } = 600;
    public int MessageRatePerMinute { get; init; } = 600;
    public SecuritySettings Security { get; init; } = new();
    public bool NormalizeBareLineEndings { get; init; }
    public bool UseSyncfs { get; init; } = true;
    public int MaxCommitBatch { get; init; } = 512;

    /// <summary>router.storage.drop-written-pages: a Maildir file's pages leave the page cache once it is durable.</summary>
    public bool DropWrittenPages { get; init; } = true;
    public TimeSpan DeliveryAckTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the owners of a message may take to confirm it is durable: delivery-ack-timeout,
    /// plus a second for each 10 MB they write (every mailbox writes its own copy: a message at
    /// the size limit for hundreds of mailboxes must not be refused with 451 at every try), at most
    /// 9 minutes (RFC 5321 s4.5.3.2.6: a client waits 10 minutes for the reply to the final dot).
    /// </summary>
    public TimeSpan AckTimeoutFor(long bytesWritten)
    {
        var cap = DeliveryAckTimeout > MaxAckTimeout ? DeliveryAckTimeout : MaxAckTimeout;
        var scaled = DeliveryAckTimeout + TimeSpan.FromSeconds(bytesWritten / 10_000_000.0);
        return scaled < cap ? scaled : cap;
    }

    private static readonly TimeSpan MaxAckTimeout = TimeSpan.FromMinutes(9);

    /// <summary>router.cluster-join-timeout: how long a starting node may take to become a cluster member before it gives up.</summary>
    public TimeSpan ClusterJoinTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a domain queue whose shard moves waits for its delivery attempts in flight before
    /// it stops anyway (a quarter of delivery-ack-timeout): the next owner must answer in time.
    /// </summary>
    public TimeSpan OwnerHandOffDeadline => DeliveryAckTimeout / 4;

    /// <summary>
    /// Akka's <c>akka.cluster.sharding.handoff-timeout</c> unless the configuration sets it: the
    /// owners' own deadline plus 7.5 s. Akka stops the entities of a shard being handed off by force
    /// 5 s before this timeout, which leaves the owners 2.5 s beyond their deadline; and when the
    /// region handing a shard off terminates before every region has acknowledged the hand-off's
    /// start, Akka's rebalance worker waits out the whole timeout while requests for that shard
    /// wait (60 s by default, longer than delivery-ack-timeout).
    /// </summary>
    public TimeSpan ShardHandOffTimeout => OwnerHandOffDeadline + TimeSpan.FromSeconds(7.5);

    /// <summary>router.maildir-dir: where the Maildirs live (default &lt;data-dir&gt;/maildir; shared by the nodes of a cluster).</summary>
    public string MaildirRoot
    {
        get => _maildirRoot ?? Path.Combine(DataDir, "maildir");
        init => _maildirRoot = value;
    }

    private readonly string? _maildirRoot;

    /// <summary>
    /// Reads the settings. <paramref name="baseDirFor"/> gives, for a setting's path under router,
    /// the folder its relative paths start from (the folder of the file that set it).
    /// </summary>
    public static RouterSettings FromConfig(Config config, Func<string, string> baseDirFor)
    {
        var r = config.GetConfig("router") ?? throw new ConfigurationException("missing router { } section");
        string PathOf(string key, string value) => Path.GetFullPath(Path.IsPathRooted(value) ? value : Path.Combine(baseDirFor(key), value));

        var localDomainList = r.GetStringList("local-domains").Select(d => d.Trim().ToLowerInvariant()).ToArray();
        var localDomains = localDomainList.ToHashSet();
        var mailboxes = r.GetStringList("mailboxes").Select(m => m.Trim().ToLowerInvariant()).ToHashSet();
        var mailboxesFile = r.GetString("mailboxes-file", "");
        if (mailboxesFile.Length > 0)
        {
            foreach (var line in File.ReadAllLines(PathOf("mailboxes-file", mailboxesFile)))
            {
                var entry = line.Split('#')[0].Trim();
                if (entry.Length > 0) mailboxes.Add(entry.ToLowerInvariant());
            }
        }
        foreach (var m in mailboxes)
        {
            var at = m.LastIndexOf('@');
            if (at <= 0 || !localDomains.Contains(m[(at + 1)..]))
                throw new ConfigurationException($"router.mailboxes: '{m}' is not an address at one of router.local-domains");
        }

        var aliases = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (key, value) in r.Map("aliases"))
        {
            aliases[key.ToLowerInvariant()] = value.Texts($"router.aliases \"{key}\"").Select(t => t.Trim()).ToArray();
        }
        var catchAll = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (domain, value) in r.Map("catch-all")) catchAll[domain.ToLowerInvariant()] = value.Text($"router.catch-all \"{domain}\"").ToLowerInvariant();

        // Akka's parser takes "hostname = =" as a value that reads as null: the router would greet
        // with an empty name and fail at the certificate, far from the cause.
        var hostname = r.GetString("hostname", "")?.Trim() ?? "";
        if (hostname.Length == 0) throw new ConfigurationException("router.hostname is empty: it is the name the router greets with and puts in Received:, such as \"mx.example.com\"");

        var postmaster = r.GetString("postmaster", "").Trim().ToLowerInvariant();
        if (postmaster.Length == 0) postmaster = "postmaster@" + (localDomainList.FirstOrDefault() ?? hostname);
        var postmasterAt = postmaster.LastIndexOf('@');
        if (postmasterAt <= 0 || postmasterAt == postmaster.Length - 1)
            throw new ConfigurationException($"router.postmaster: '{postmaster}' is not an address (user@domain)");

        var sync = r.GetString("storage.sync-mode", "syncfs");
        if (sync is not ("syncfs" or "fsync")) throw new ConfigurationException("router.storage.sync-mode must be \"syncfs\" or \"fsync\"");
        var bare = r.GetString("data.bare-line-endings", "reject");
        if (bare is not ("reject" or "normalize")) throw new ConfigurationException("router.data.bare-line-endings must be \"reject\" or \"normalize\"");

        var maxMessageSize = r.Size("limits.max-message-size") ?? 25L * 1024 * 1024;
        // Postfix reads message_size_limit = 0 as no limit; here it would refuse every message.
        if (maxMessageSize <= 0) throw new ConfigurationException($"router.limits.max-message-size must be above zero (there is no \"no limit\"), not {r.GetString("limits.max-message-size")}");
        var settings = new RouterSettings
        {
            Hostname = hostname,
            DataDir = PathOf("data-dir", r.GetString("data-dir", "data")),
            MaildirRoot = r.GetString("maildir-dir", "").Length > 0
                ? PathOf("maildir-dir", r.GetString("maildir-dir"))
                : Path.Combine(PathOf("data-dir", r.GetString("data-dir", "data")), "maildir"),
            SmtpEndpoints = r.GetStringList("smtp.endpoints").Select(ParseEndpoint).ToArray(),
            HttpEndpoint = r.GetString("http.endpoint", "") is { Length: > 0 } http ? AdminEndpoint(ParseEndpoint(http)) : null,
            SubmissionEndpoints = r.HasPath("smtp.submission-endpoints") ? r.GetStringList("smtp.submission-endpoints").Select(ParseEndpoint).ToArray() : [],
            TlsEndpoints = r.HasPath("smtp.tls-endpoints") ? r.GetStringList("smtp.tls-endpoints").Select(ParseEndpoint).ToArray() : [],
            MtaAuth = r.Flag("smtp.mta-auth", false),
            SessionsOnSocketThreads = r.Flag("smtp.sessions-on-socket-threads", true),
            Dnsbl = DnsblOf(r),
            LocalDomains = localDomains,
            Mailboxes = mailboxes,
            Aliases = aliases,
            CatchAll = catchAll,
            TrustedNetworks = r.HasPath("relay.trusted-networks") ? r.GetStringList("relay.trusted-networks").ToArray() : ["127.0.0.0/8", "::1/128"],
            Postmaster = postmaster,
            RecipientDelimiter = r.GetString("recipient-delimiter", "+"),
            MaxMessageSize = maxMessageSize,
            MinFreeSpace = MinFreeSpaceOf(r, maxMessageSize),
            MaxBodyMemory = MaxBodyMemoryOf(r, maxMessageSize),
            MaxRecipients = r.Int("limits.max-recipients", 1000, min: 1),
            IdleTimeout = r.PositiveDuration("limits.idle-timeout", TimeSpan.FromMinutes(5)),
            MaxErrors = r.Int("limits.max-errors", 10, min: 1),
            MaxReceivedHeaders = r.Int("limits.max-received-headers", 50, min: 1),
            MaxConnections = r.Int("limits.max-connections", 1000, min: 0),
            MaxConnectionsPerClient = r.Int("limits.max-connections-per-client", 50, min: 0),
            ConnectionRatePerMinute = r.Int("limits.connection-rate-per-minute", 600, min: 0),
            MessageRatePerMinute = r.Int("limits.message-rate-per-minute", 600, min: 0),
            Security = SecuritySettings.FromConfig(r, PathOf),
            NormalizeBareLineEndings = bare == "normalize",
            UseSyncfs = sync == "syncfs" && OperatingSystem.IsLinux(),
            MaxCommitBatch = r.Int("storage.max-batch", 512, min: 1),
            DropWrittenPages = r.Flag("storage.drop-written-pages", true),
            DeliveryAckTimeout = r.PositiveDuration("delivery-ack-timeout", TimeSpan.FromSeconds(30)),
            ShutdownGrace = r.Duration("shutdown-grace", TimeSpan.FromSeconds(10)),
            ClusterJoinTimeout = r.PositiveDuration("cluster-join-timeout", TimeSpan.FromSeconds(60)),
        };
        if (Routing.RoutingPolicy.UnreachableTarget(settings) is { } unreachable) throw new ConfigurationException(unreachable);
        return settings;
    }

    /// <summary>
    /// router.http.endpoint on a loopback address only: the admin endpoint has no authentication,
    /// and it deletes queued mail (Postfix's postsuper needs root). Anything else stops the start.
    /// </summary>
    private static IPEndPoint AdminEndpoint(IPEndPoint endpoint) =>
        IPAddress.IsLoopback(endpoint.Address)
            ? endpoint
            : throw new ConfigurationException($"router.http.endpoint must be a loopback address (127.0.0.0/8 or ::1), not {endpoint.Address}: the admin endpoint has no authentication and can delete queued mail");

    /// <summary>router.smtp.dnsbl: a list of strings, or one string; an empty list (which Akka's HOCON reads as neither a list nor a string) is none.</summary>
    private static IReadOnlyList<string> DnsblOf(Config r)
    {
        if (!r.HasPath("smtp.dnsbl")) return [];
        var value = r.GetValue("smtp.dnsbl");
        return value.IsString() || value.IsArray() || value.IsObject() ? value.Texts("router.smtp.dnsbl") : [];
    }

    /// <summary>router.limits.min-free-space: "auto" (1.5 messages of the largest size, as Postfix's smtpd) or a size; 0 = no check.</summary>
    private static long MinFreeSpaceOf(Config r, long maxMessageSize) =>
        AutoOrSize(r, "limits.min-free-space", "100MiB (0 = no check)") ?? maxMessageSize * 3 / 2;

    /// <summary>
    /// router.limits.max-body-memory: "auto" (a quarter of the memory this process may use, as the
    /// runtime sees it, cgroup limits included; at least two messages of the largest size), a size,
    /// or 0 for no limit.
    /// </summary>
    private static long MaxBodyMemoryOf(Config r, long maxMessageSize) =>
        AutoOrSize(r, "limits.max-body-memory", "2GiB (0 = no limit)") switch
        {
            null => Math.Max(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4, 2 * maxMessageSize),
            0 => long.MaxValue,
            var size => size.Value,
        };

    /// <summary>A setting that is "auto" (null; the default) or a size; anything else is a configuration error.</summary>
    private static long? AutoOrSize(Config r, string key, string example)
    {
        if (r.GetString(key, "auto") == "auto") return null;
        var what = $"\"auto\" or a size such as {example}";
        return r.Size(key, what) ?? throw new ConfigurationException($"router.{key} must be {what}");
    }

    public static IPEndPoint ParseEndpoint(string text) =>
        IPEndPoint.TryParse(text.Trim(), out var ep) && ep.Port > 0
            ? ep
            : throw new ConfigurationException($"'{text}' is not an endpoint of the form ip:port");
}
