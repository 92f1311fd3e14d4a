using Router.Actors.Storage;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// Cluster nodes start together and each opens the body store on an empty database: creating its
/// tables must not fail on any of them (CREATE TABLE IF NOT EXISTS alone races in PostgreSQL).
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
            await stores[0].StoreAsync("Q1", ["mailbox:a@example.test"], "Received: x\r\n"u8.ToArray(), "body\r\n"u8.ToArray());
            Assert.Equal("Received: x\r\nbody\r\n"u8.ToArray(), await stores[^1].LoadAsync("Q1", "mailbox:a@example.test", CancellationToken.None));
        }
        finally
        {
            foreach (var store in stores) await store.DisposeAsync();
        }
    }
}
