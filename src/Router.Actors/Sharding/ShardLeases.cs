using System.Diagnostics;
using Akka.Actor;
using Akka.Coordination;
using Akka.Event;
using Npgsql;
using Router.Actors.Storage;

namespace Router.Actors.Sharding;

/// <summary>
/// Fencing for the domain queues of a cluster: a shard runs only while its node holds the
/// shard's lease, a row in PostgreSQL. Without it a node that formed a cluster of its own (a wrong
/// seed list) on the same database started every remembered domain there too, and both clusters
/// delivered the same queued mail; a node frozen past its downing kept delivering until it learnt
/// it was down. One keeper per node renews all the leases it holds in one statement.
/// </summary>
/// <remarks>
/// Time: the database decides when a lease has expired (<c>now()</c> there), so the nodes' clocks
/// need not agree. A holder counts on its own monotonic clock from the moment it sent its last
/// successful renewal, which is before the database stamped it, and gives the lease up two renewal
/// intervals before the TTL has passed: a renewal may take up to one interval (it is cancelled
/// then) and the check comes once per interval, so the shard is told to stop before any other
/// owner can take the lease.
/// The owner is the node's host:port (Akka's lease owner name): a node restarted on its address
/// takes its leases back at once; another address waits for the TTL.
/// </remarks>
public sealed class ShardLeases : IExtension, IAsyncDisposable
{
    /// <summary>The lease configuration the domain region's shards use (<c>use-lease</c>).</summary>
    public const string ConfigPath = "router.shard-lease";

    private readonly NpgsqlDataSource _source;
    private readonly TimeSpan _ttl;
    private readonly ILoggingAdapter _log;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Held> _held = [];
    private readonly HashSet<string> _refused = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewals;
    private readonly Task _deadlines;

    private sealed record Held(string Owner, long ValidUntil, Action<Exception>? Lost);

    private ShardLeases(NpgsqlDataSource source, TimeSpan ttl, ILoggingAdapter log)
    {
        _source = source;
        _ttl = ttl;
        _log = log;
        Interval = ttl / 6;
        _renewals = RenewLoopAsync(_stop.Token);
        _deadlines = DeadlineLoopAsync(_stop.Token);
    }

    /// <summary>How often the held leases are renewed; a holder gives a lease up after TTL minus twice this without a renewal.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Creates the lease table (one node at a time) and registers the keeper with the actor system.</summary>
    public static async Task<ShardLeases> StartAsync(ActorSystem system, string connectionString, TimeSpan ttl)
    {
        // A pool of its own: renewals never queue behind the bodies' traffic. A short connect
        // timeout: a release waits for it in the shard's PostStop.
        var source = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 4, Timeout = 3 }.ConnectionString);
        await PostgresSchemaLock.CreateAsync(source, "router_shard_leases",
            "CREATE TABLE IF NOT EXISTS router_shard_leases (name text PRIMARY KEY, owner text NOT NULL, expires timestamptz NOT NULL);").ConfigureAwait(false);
        var leases = new ShardLeases(source, ttl, Logging.GetLogger(system, "shard-lease"));
        return (ShardLeases)system.RegisterExtension(new Id(leases));
    }

    public static ShardLeases Get(ActorSystem system) =>
        system.GetExtension<ShardLeases>() ?? throw new InvalidOperationException("the shard leases are not started (ShardLeases.StartAsync)");

    /// <summary>Takes the lease if it is free, expired, or already this owner's.</summary>
    public async Task<bool> AcquireAsync(string name, string owner, Action<Exception>? lost)
    {
        var sent = Stopwatch.GetTimestamp();
        await using var command = _source.CreateCommand("""
            INSERT INTO router_shard_leases AS l (name, owner, expires) VALUES ($1, $2, now() + $3)
            ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
              WHERE l.owner = EXCLUDED.owner OR l.expires < now()
            RETURNING name
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _ttl });
        var taken = await command.ExecuteScalarAsync().ConfigureAwait(false) is not null;
        var first = false;
        lock (_lock)
        {
            if (!taken) first = _refused.Add(name);
            else
            {
                _held[name] = new Held(owner, ValidUntil(sent), lost);
                _refused.Remove(name);
            }
        }
        if (first) await WarnRefusedAsync(name, owner).ConfigureAwait(false);
        return taken;
    }

    /// <summary>Once per lease until it is taken (the shard retries every <see cref="Interval"/>): who holds it.</summary>
    private async Task WarnRefusedAsync(string name, string owner)
    {
        var holder = "another owner";
        try
        {
            await using var command = _source.CreateCommand("SELECT owner, extract(epoch FROM expires - now())::float8 FROM router_shard_leases WHERE name = $1");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            if (await reader.ReadAsync().ConfigureAwait(false)) holder = $"{reader.GetString(0)} (for {reader.GetDouble(1):0.#} s more unless renewed)";
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // The warning goes out without the holder's name; the refusal stands either way.
        }
        _log.Warning("lease {0} is held by {1}: another cluster on this database (check the seed nodes), or a member that stopped without giving it back; {2} waits for it", name, holder, owner);
    }

    /// <summary>
    /// Gives the lease back (nothing to do when another owner had taken it). Synchronous: a shard
    /// releases its lease as it stops, and the next owner starts the shard right after; a release
    /// still in flight would make it wait for a retry.
    /// </summary>
    public void Release(string name, string owner)
    {
        lock (_lock) _held.Remove(name);
        using var command = _source.CreateCommand("DELETE FROM router_shard_leases WHERE name = $1 AND owner = $2");
        command.CommandTimeout = 2;
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// For an entity, the check of whether this node holds the lease of its shard, as Akka's
    /// sharding names that lease ("{system}-shard-{type}-{shard id}", worked out once per entity):
    /// an entity asks before it acts on its own (a delivery attempt from a timer), because after a
    /// pause of the process its timers can fire before the keeper has told its shard to stop.
    /// </summary>
    public Func<string, Func<bool>> HolderCheck(ActorSystem system, string typeName, Akka.Cluster.Sharding.IMessageExtractor extractor) =>
        entityId =>
        {
            var name = $"{system.Name}-shard-{typeName}-{extractor.ShardId(entityId, null)}";
            return () => Holds(name);
        };

    /// <summary>True while the lease was renewed recently enough that no one else can have it.</summary>
    public bool Holds(string name)
    {
        lock (_lock) return _held.TryGetValue(name, out var held) && Stopwatch.GetTimestamp() < held.ValidUntil;
    }

    private TimeSpan Validity => _ttl - 2 * Interval;

    private long ValidUntil(long sent) => sent + (long)(Validity.TotalSeconds * Stopwatch.Frequency);

    private async Task RenewLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false)) await RenewAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Gives up, every quarter of an interval, what was not renewed in time. Apart from the
    /// renewals: one that hangs (up to an interval) does not hold the check up, and the deadline
    /// is met within a quarter of an interval rather than a whole one. That leaves the holder at
    /// least 1.75 intervals before the row expires in the database (validity is TTL minus two).
    /// </summary>
    private async Task DeadlineLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Interval / 4);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false)) GiveUpOverdue();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void GiveUpOverdue()
    {
        List<(string Name, Held Held)> overdue = [];
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var (name, held) in _held)
            {
                if (now >= held.ValidUntil) overdue.Add((name, held));
            }
            foreach (var (name, _) in overdue) _held.Remove(name);
        }
        Lose(overdue, $"not renewed for {Validity.TotalSeconds:0.#} s (the database did not answer, or this process was paused)");
    }

    /// <summary>
    /// First gives up what was not renewed in time (after a pause of this process, before anything
    /// else), then renews the rest in one statement per owner; a lease the statement did not renew
    /// was taken by another owner.
    /// </summary>
    private async Task RenewAsync(CancellationToken ct)
    {
        GiveUpOverdue();
        Dictionary<string, List<string>> byOwner = [];
        lock (_lock)
        {
            foreach (var (name, held) in _held) (byOwner.TryGetValue(held.Owner, out var names) ? names : byOwner[held.Owner] = []).Add(name);
        }

        foreach (var (owner, names) in byOwner)
        {
            var sent = Stopwatch.GetTimestamp();
            HashSet<string> renewed = [];
            // At most one interval: a database that hangs must not hold up the next deadline check.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bounded.CancelAfter(Interval);
            try
            {
                await using var command = _source.CreateCommand(
                    "UPDATE router_shard_leases SET expires = now() + $3 WHERE owner = $1 AND name = ANY($2) RETURNING name");
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
                command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. names] });
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _ttl });
                await using var reader = await command.ExecuteReaderAsync(bounded.Token).ConfigureAwait(false);
                while (await reader.ReadAsync(bounded.Token).ConfigureAwait(false)) renewed.Add(reader.GetString(0));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException
                || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                // Kept until their deadline: the next tick gives them up if the database stays away.
                _log.Warning("could not renew {0} shard leases: {1}", names.Count, e.Message);
                continue;
            }
            var until = ValidUntil(sent);
            List<(string Name, Held Held)> taken = [];
            lock (_lock)
            {
                foreach (var name in names)
                {
                    if (!_held.TryGetValue(name, out var held)) continue; // released meanwhile
                    if (renewed.Contains(name)) _held[name] = held with { ValidUntil = until };
                    else
                    {
                        _held.Remove(name);
                        taken.Add((name, held));
                    }
                }
            }
            Lose(taken, "taken by another owner");
        }
    }

    /// <summary>Tells each shard that its lease is gone (it stops at once); one log line for all of them.</summary>
    private void Lose(List<(string Name, Held Held)> lost, string why)
    {
        if (lost.Count == 0) return;
        _log.Error("{0} shard leases lost, their shards stop: {1} ({2})", lost.Count, why, string.Join(", ", lost.Select(l => l.Name)));
        foreach (var (name, held) in lost) held.Lost?.Invoke(new LeaseException($"lease {name} lost: {why}"));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewals.ConfigureAwait(false);
        await _deadlines.ConfigureAwait(false);
        _stop.Dispose();
        await _source.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Id(ShardLeases leases) : ExtensionIdProvider<ShardLeases>
    {
        public override ShardLeases CreateExtension(ExtendedActorSystem system) => leases;
    }
}

/// <summary>The lease of one domain shard, kept by the node's <see cref="ShardLeases"/> (created by Akka's LeaseProvider from <see cref="ShardLeases.ConfigPath"/>).</summary>
public sealed class PostgresShardLease(LeaseSettings settings, ExtendedActorSystem system) : Lease(settings)
{
    private readonly ShardLeases _leases = ShardLeases.Get(system);

    public override Task<bool> Acquire() => _leases.AcquireAsync(Settings.LeaseName, Settings.OwnerName, lost: null);

    public override Task<bool> Acquire(Action<Exception> leaseLostCallback) =>
        _leases.AcquireAsync(Settings.LeaseName, Settings.OwnerName, leaseLostCallback);

    public override Task<bool> Release()
    {
        try
        {
            _leases.Release(Settings.LeaseName, Settings.OwnerName);
            return Task.FromResult(true);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return Task.FromException<bool>(e); // the shard logs it; the lease expires after its TTL
        }
    }

    public override bool CheckLease() => _leases.Holds(Settings.LeaseName);
}
