using Router.Actors.Storage;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// Cluster nodes start together and each opens the body store, and warms up the journal, on an
/// empty database: creating their tables must not fail on any of them (CREATE TABLE IF NOT EXISTS
/// alone races in PostgreSQL); and they share the body sweep's turn.
/// </summary>
public sealed class PostgresMessageStoreStartTests : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();

    public Task InitializeAsync() => _postgres.StartAsync();

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    [Fact]
    public async Task Nodes_opening_the_store_at_the_same_time_on_an_empty_database_all_succeed()
    {
        var stores = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => PostgresMessageStore.OpenAsync(_postgres.ConnectionString))));
        try
        {
            await stores[0].StoreAsync("Q1", ["mailbox:a@example.test"], "Received: x\r\n"u8.ToArray(), "body\r\n"u8.ToArray(), TimeSpan.FromSeconds(30));
            Assert.Equal("Received: x\r\nbody\r\n"u8.ToArray(), await stores[^1].LoadAsync("Q1", "mailbox:a@example.test", CancellationToken.None));
        }
        finally
        {
            foreach (var store in stores) await store.DisposeAsync();
        }
    }

    /// <summary>
    /// The body sweep's turn: of nodes claiming it at once, one gets it; the others get it only
    /// once the interval since the last claim has passed (PostgreSQL's clock).
    /// </summary>
    [Fact]
    public async Task One_node_of_many_claiming_at_once_gets_the_sweep_and_the_next_claim_waits_for_the_interval()
    {
        var stores = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostgresMessageStore.OpenAsync(_postgres.ConnectionString)));
        try
        {
            var claims = await Task.WhenAll(stores.Select(s => Task.Run(() => s.ClaimSweepAsync(TimeSpan.FromHours(1)))));
            Assert.Single(claims, granted => granted);
            var winner = Array.IndexOf(claims, true);
            Assert.False(await stores[winner].ClaimSweepAsync(TimeSpan.FromHours(1)), "the same node got the turn again within the interval");

            var claimedAt = await ClaimedAtAsync();
            await Eventually.UntilAsync(async () => await AgeAsync(claimedAt) > TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(10), "the claim to age");
            Assert.True(await stores[(winner + 1) % stores.Length].ClaimSweepAsync(TimeSpan.FromMilliseconds(300)), "another node refused the turn after the interval");
            Assert.True(await ClaimedAtAsync() > claimedAt, "the new claim did not move the claim's time");
        }
        finally
        {
            foreach (var store in stores) await store.DisposeAsync();
        }
    }

    private Task<DateTime> ClaimedAtAsync() => _postgres.ScalarAsync<DateTime>("SELECT claimed_at FROM router_body_sweep");

    private Task<TimeSpan> AgeAsync(DateTime at) => _postgres.ScalarAsync<TimeSpan>("SELECT now() - $1", at);

    /// <summary>The lock a node holds while the journal creates its tables: one holder at a time, released by Dispose.</summary>
    [Fact]
    public async Task The_schema_lock_admits_one_node_at_a_time_and_is_gone_once_disposed()
    {
        var first = await PostgresSchemaLock.AcquireAsync(_postgres.ConnectionString);
        var second = PostgresSchemaLock.AcquireAsync(_postgres.ConnectionString);
        await Eventually.UntilAsync(async () => await AdvisoryLocksAsync(granted: false) == 1, TimeSpan.FromSeconds(10), "the second node waiting for the lock");
        Assert.False(second.IsCompleted, "a second node got the schema lock while the first held it");

        await first.DisposeAsync();
        await using (await second.WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(1, await AdvisoryLocksAsync(granted: true));
        }
        await Eventually.UntilAsync(async () => await AdvisoryLocksAsync(granted: true) == 0, TimeSpan.FromSeconds(10), "the lock released after Dispose");
    }

    private Task<long> AdvisoryLocksAsync(bool granted) =>
        _postgres.ScalarAsync<long>("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = $1", granted);
}
