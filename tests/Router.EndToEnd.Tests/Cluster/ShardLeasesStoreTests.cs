using Akka.Actor;
using Npgsql;
using Router.Actors.Sharding;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// The shard leases (fencing of the domain queues) on a real PostgreSQL: one owner at a time, an
/// owner that stops renewing loses the lease to another only after the TTL, and a holder learns
/// that it lost its lease: taken by another owner, or not renewed in time.
/// </summary>
public sealed class ShardLeasesStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly PostgresFixture _postgres = new();
    private readonly List<ActorSystem> _systems = [];

    public Task InitializeAsync() => _postgres.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var system in _systems) await system.Terminate();
        await _postgres.DisposeAsync();
    }

    /// <summary>A node's keeper (each node has its own actor system).</summary>
    private async Task<ShardLeases> KeeperAsync()
    {
        var system = ActorSystem.Create("lease-test-" + _systems.Count);
        _systems.Add(system);
        return await ShardLeases.StartAsync(system, _postgres.ConnectionString, Ttl);
    }

    private async Task<string?> HolderAsync(string name)
    {
        await using var connection = new NpgsqlConnection(_postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT owner FROM router_shard_leases WHERE name = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteScalarAsync() as string;
    }

    [Fact]
    public async Task One_owner_at_a_time_and_another_only_after_the_ttl_of_one_that_stopped_renewing()
    {
        var a = await KeeperAsync();
        var b = await KeeperAsync();

        Assert.True(await a.AcquireAsync("shard-1", "node-a", null));
        Assert.True(a.Holds("shard-1"));
        Assert.True(await a.AcquireAsync("shard-1", "node-a", null)); // reentrant: a node restarted on its address
        Assert.False(await b.AcquireAsync("shard-1", "node-b", null));
        Assert.False(b.Holds("shard-1"));

        // A holder that renews keeps it past several TTLs.
        var renewing = DateTime.UtcNow;
        while (DateTime.UtcNow - renewing < 2 * Ttl)
        {
            Assert.False(await b.AcquireAsync("shard-1", "node-b", null));
            await Task.Delay(a.Interval);
        }
        Assert.True(a.Holds("shard-1"));

        // Released: the next owner takes it at once.
        a.Release("shard-1", "node-a");
        Assert.Null(await HolderAsync("shard-1"));
        Assert.True(await b.AcquireAsync("shard-1", "node-b", null));

        // A holder that dies without releasing (its keeper gone): free only once the TTL has passed.
        Assert.True(await a.AcquireAsync("shard-2", "node-a", null));
        await a.DisposeAsync();
        var died = DateTime.UtcNow;
        Assert.False(await b.AcquireAsync("shard-2", "node-b", null));
        await Eventually.UntilAsync(() => b.AcquireAsync("shard-2", "node-b", null), Deadline, "shard-2 free after the TTL");
        Assert.True(DateTime.UtcNow - died > Ttl - a.Interval, $"taken over after {(DateTime.UtcNow - died).TotalSeconds:0.0} s, TTL {Ttl.TotalSeconds} s");
        Assert.Equal("node-b", await HolderAsync("shard-2"));
    }

    /// <summary>An entity asks by its own id for the lease Akka's sharding took for its shard ("{system}-shard-domain-{shard}").</summary>
    [Fact]
    public async Task An_entity_finds_the_lease_of_its_shard_by_the_name_sharding_gives_it()
    {
        var a = await KeeperAsync();
        var extractor = new Router.Actors.Delivery.DomainDeliveryActor.MessageExtractor();
        var holds = a.HolderCheck(_systems[^1], "domain", extractor);
        var shard = extractor.ShardId("far.test", null);
        var other = Enumerable.Range(0, 1000).Select(i => $"d{i}.test").First(d => extractor.ShardId(d, null) != shard);

        Assert.False(holds("far.test")());
        Assert.True(await a.AcquireAsync($"{_systems[^1].Name}-shard-domain-{shard}", "node-a", null));
        Assert.True(holds("far.test")());
        Assert.False(holds(other)());
    }

    [Fact]
    public async Task A_holder_hears_that_its_lease_was_taken()
    {
        var a = await KeeperAsync();
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await a.AcquireAsync("shard-1", "node-a", e => lost.TrySetResult(e)));

        // As if another owner had taken it after an expiry this holder did not see.
        await using (var connection = new NpgsqlConnection(_postgres.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("UPDATE router_shard_leases SET owner = 'node-b' WHERE name = 'shard-1'", connection);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }
        var reason = await lost.Task.WaitAsync(Deadline);
        Assert.Contains("taken by another owner", reason.Message, StringComparison.Ordinal);
        Assert.False(a.Holds("shard-1"));
    }

    [Fact]
    public async Task A_holder_that_cannot_renew_gives_the_lease_up_before_it_expires()
    {
        var a = await KeeperAsync();
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await a.AcquireAsync("shard-1", "node-a", e => lost.TrySetResult(e)));

        await _postgres.StopServerAsync();
        var stopped = DateTime.UtcNow;
        var reason = await lost.Task.WaitAsync(Deadline);
        var after = DateTime.UtcNow - stopped;
        Assert.Contains("not renewed", reason.Message, StringComparison.Ordinal);
        Assert.False(a.Holds("shard-1"));
        // Given up before anyone else could take it: within the TTL of its last renewal.
        Assert.True(after < Ttl, $"given up {after.TotalSeconds:0.0} s after the database went away (TTL {Ttl.TotalSeconds} s)");
        await _postgres.StartServerAgainAsync();
    }
}
