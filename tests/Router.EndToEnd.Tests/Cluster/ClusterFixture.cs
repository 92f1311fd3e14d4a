using System.Globalization;
using System.Net;
using System.Text;
using Router.EndToEnd.Tests.Infrastructure;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// A three-node Router cluster of real processes: one private PostgreSQL (journal, snapshots,
/// remembered entities, message bodies), one Maildir folder all nodes share, every node a seed,
/// each with its own SMTP port and data-dir. Remote mail for relay0.test .. relay5.test goes by
/// static route to one capturing sink. Time is compressed where it does not change the
/// behaviour: retries after 1-2 s, 10 s for owners to acknowledge.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int NodeCount = 3;
    public const int MailboxCount = 30;
    public const int RelayDomainCount = 6;

    /// <summary>The SIZE limit of the cluster: the router's default (max-message-size = 25MiB), far above Akka remoting's 128 KB frame.</summary>
    public const int MaxMessageSize = 25 * 1024 * 1024;

    private readonly List<RouterProcess> _nodes = [];

    public PostgresFixture Postgres { get; } = new();

    public SmtpSink Sink { get; private set; } = null!;

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "router-cluster-" + Guid.NewGuid().ToString("N")[..12]);

    public string MaildirRoot => Path.Combine(Folder, "maildir");

    public IReadOnlyList<RouterProcess> Nodes => _nodes;

    public IReadOnlyList<IPEndPoint> SmtpEndPoints => _nodes.Select(n => n.EndPoint).ToArray();

    /// <summary>The admin HTTP port of each node (/metrics), in the order of <see cref="Nodes"/>.</summary>
    public IReadOnlyList<int> AdminPorts { get; private set; } = [];

    public static IReadOnlyList<string> Mailboxes { get; } =
        Enumerable.Range(0, MailboxCount).Select(i => $"user{i:00}@example.test").ToArray();

    /// <summary>Statically routed to a port where nothing listens: its mail stays queued.</summary>
    public const string HeldDomain = "held.test";

    public static IReadOnlyList<string> RelayDomains { get; } =
        Enumerable.Range(0, RelayDomainCount).Select(i => $"relay{i}.test").ToArray();

    /// <summary>Routed to the sink like the relay domains, but sent nothing until a test does: their domain shards are not allocated before.</summary>
    public static IReadOnlyList<string> FreshDomains { get; } =
        Enumerable.Range(0, 10).Select(i => $"fresh{i}.test").ToArray();

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(MaildirRoot);
        await Postgres.StartAsync();
        Sink = new SmtpSink(new SinkOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            HostName = "sink.cluster.test",
            CaptureMessages = true,
        });
        await Sink.StartAsync();

        var akkaPorts = Enumerable.Range(0, NodeCount).Select(_ => TestPorts.Next()).ToArray();
        AdminPorts = Enumerable.Range(0, NodeCount).Select(_ => TestPorts.Next()).ToArray();
        var seeds = string.Join(", ", akkaPorts.Select(p => $"\"akka.tcp://router@127.0.0.1:{p}\""));
        var routes = string.Join("\n", RelayDomains.Concat(FreshDomains).Select(d => $"      \"{d}\" = \"127.0.0.1:{Sink.EndPoint.Port}\""))
            + $"\n      \"{HeldDomain}\" = \"127.0.0.1:{TestPorts.Next()}\"";
        var starts = akkaPorts.Select((port, i) => RouterProcess.StartAsync(new RouterOptions
        {
            Hostname = "mx.cluster.test",
            Mailboxes = Mailboxes,
            // The default aliases point at mailboxes this cluster does not have (a start refuses that).
            Aliases = new Dictionary<string, string[]> { ["postmaster@example.test"] = [Mailboxes[0]] },
            MaxConnections = 2000,
            ExtraHocon = $$"""
                router {
                  maildir-dir = "{{MaildirRoot}}"
                  smtp { submission-endpoints = [], tls-endpoints = [] }
                  http.endpoint = "127.0.0.1:{{AdminPorts[i]}}"
                  queue {
                    store = "postgresql"
                    connection-string = "{{Postgres.ConnectionString}}"
                    retry-schedule = [1s, 2s]
                  }
                  relay.transport {
                {{routes}}
                  }
                  delivery-ack-timeout = 10s
                  shutdown-grace = 5s
                }
                akka {
                  remote.dot-netty.tcp { hostname = "127.0.0.1", port = {{port}} }
                  cluster.seed-nodes = [{{seeds}}]
                }
                """,
        })).ToArray();
        try
        {
            _nodes.AddRange(await Task.WhenAll(starts));
        }
        catch
        {
            foreach (var started in starts.Where(s => s.IsCompletedSuccessfully)) started.Result.Dispose();
            throw;
        }
        await WarmUpAsync();
    }

    /// <summary>
    /// One message accepted for every mailbox and relay domain, through every node: the shards
    /// are allocated and the entities started before a test counts anything. (On a cold cluster
    /// the coordinator's first writes of remembered shards can outlast the 10 s acknowledgement
    /// timeout on a busy machine: the client gets 451 and retries, as SMTP intends.)
    /// </summary>
    private async Task WarmUpAsync()
    {
        var warm = new ClusterLoad("warmup" + Guid.NewGuid().ToString("N")[..8], SmtpEndPoints);
        var owners = Mailboxes.Select(m => (Mailbox: (string?)m, Remote: (string?)null))
            .Concat(RelayDomains.Select(d => (Mailbox: (string?)null, Remote: (string?)("warm@" + d))))
            .ToArray();
        var endPoints = SmtpEndPoints;
        await Task.WhenAll(owners.Select((o, i) =>
            warm.UntilAcceptedAsync(o.Mailbox, o.Remote, endPoints.Skip(i % endPoints.Count).Concat(endPoints.Take(i % endPoints.Count)).ToArray(), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(120))));
        await warm.DrainProbesAsync();
    }

    /// <summary>Restarts any node that is not running (a test killed or stopped it), so the next test sees three nodes.</summary>
    public async Task EnsureAllUpAsync()
    {
        foreach (var node in _nodes.Where(n => n.HasExited)) await node.RestartAsync();
    }

    /// <summary>The logs of every node, for a failure message: its warnings and errors, then its last lines.</summary>
    public string Logs(int tailLines = 30)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < _nodes.Count; i++)
        {
            var lines = _nodes[i].Output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            var problems = lines.Where(l => l.StartsWith("[WARNING]", StringComparison.Ordinal) || l.StartsWith("[ERROR]", StringComparison.Ordinal)
                || l.Contains("Exception", StringComparison.Ordinal)).ToArray();
            sb.AppendLine(CultureInfo.InvariantCulture, $"==== node {i} (port {_nodes[i].Port}): {problems.Length} warnings/errors, the last 40");
            foreach (var line in problems.TakeLast(40)) sb.AppendLine(line.Length > 600 ? line[..600] : line);
            sb.AppendLine(CultureInfo.InvariantCulture, $"==== node {i}: last {tailLines} lines");
            foreach (var line in lines.TakeLast(tailLines)) sb.AppendLine(line.Length > 600 ? line[..600] : line);
        }
        return sb.ToString();
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) node.Dispose();
        if (Sink is not null) await Sink.DisposeAsync();
        await Postgres.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
