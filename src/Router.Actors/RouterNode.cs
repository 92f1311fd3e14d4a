using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.DistributedData;
using Router.Actors.Configuration;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Smtp;
using Router.Actors.Storage;

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

    private RouterNode(ActorSystem system, RouterSettings settings)
    {
        System = system;
        Settings = settings;
    }

    public ActorSystem System { get; }

    public RouterSettings Settings { get; }

    public IReadOnlyList<IPEndPoint> SmtpEndpoints { get; private set; } = [];

    public DurableFileWriter Writer => _writer!;

    public static async Task<RouterNode> StartAsync(Config config, RouterSettings settings, CancellationToken ct = default)
    {
        var full = config
            .WithFallback(ClusterSharding.DefaultConfig())
            .WithFallback(DistributedData.DefaultConfig());
        var system = ActorSystem.Create("router", full);
        var node = new RouterNode(system, settings);
        try
        {
            await node.StartServicesAsync(config, ct).ConfigureAwait(false);
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return node;
    }

    private async Task StartServicesAsync(Config config, CancellationToken ct)
    {
        var cluster = Cluster.Get(System);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        if (config.GetStringList("akka.cluster.seed-nodes").Count == 0) cluster.Join(cluster.SelfAddress);
        await up.Task.WaitAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);

        Directory.CreateDirectory(Settings.MaildirRoot);
        _writer = new DurableFileWriter(Settings.DataDir, Settings.UseSyncfs, Settings.MaxCommitBatch);
        var writer = _writer;

        var sharding = ClusterSharding.Get(System);
        var shardingSettings = ClusterShardingSettings.Create(System);
        var mailboxes = await sharding.StartAsync(
            "mailbox",
            key => MailboxActor.Props(key, Settings.MaildirRoot, Settings.Hostname, writer),
            shardingSettings,
            new MailboxActor.MessageExtractor()).ConfigureAwait(false);

        var services = new SmtpServices(Settings, new RoutingPolicy(Settings), new TrustedNetworks(Settings.TrustedNetworks), mailboxes, ActorRefs.Nobody);
        var bound = new List<IPEndPoint>();
        foreach (var endpoint in Settings.SmtpEndpoints)
        {
            var listener = System.ActorOf(SmtpListenerActor.Props(endpoint, services), $"smtp-listener-{endpoint.Port}");
            _listeners.Add(listener);
            bound.Add(await listener.Ask<IPEndPoint>(SmtpListenerActor.GetBoundEndpoint.Instance, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false));
        }
        SmtpEndpoints = bound;
    }

    /// <summary>Stops accepting, lets transactions in flight finish (up to the grace), then stops the actors.</summary>
    public async Task StopAsync()
    {
        var grace = Settings.ShutdownGrace + TimeSpan.FromSeconds(5);
        await Task.WhenAll(_listeners.Select(async l =>
        {
            try
            {
                await l.Ask<SmtpListenerActor.Unbound>(SmtpListenerActor.Unbind.Instance, grace).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // The listener already stopped, or its grace ran out: nothing more to wait for.
            }
        })).ConfigureAwait(false);
        _listeners.Clear();
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        _writer?.Dispose();
        _writer = null;
    }
}
