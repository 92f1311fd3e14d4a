using Npgsql;

namespace Router.Actors.Storage;

/// <summary>
/// PostgreSQL advisory locks for schema creation, so that nodes starting together create their
/// tables one at a time (CREATE TABLE IF NOT EXISTS alone races: a unique violation in pg_type).
/// </summary>
public static class PostgresSchemaLock
{
    /// <summary>
    /// Runs <paramref name="ddl"/> in one transaction that first takes the advisory lock named
    /// <paramref name="name"/>, held to its commit: our own tables, each set under its own name.
    /// </summary>
    public static async Task CreateAsync(NpgsqlDataSource source, string name, string ddl)
    {
        await using var connection = await source.OpenConnectionAsync().ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
        await using (var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock(hashtext('{name}'));\n{ddl}", connection, transaction))
        {
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await transaction.CommitAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A session-level lock, held until disposed, for components that cannot lock themselves (the
    /// journal's auto-initialize).
    /// </summary>
    public static async Task<IAsyncDisposable> AcquireAsync(string connectionString)
    {
        // Unpooled: a pooled connection would keep its session, and the lock, after Dispose.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext('router_schema'))", connection);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            return connection; // closing the session releases the lock
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
