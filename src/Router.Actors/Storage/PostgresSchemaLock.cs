using Npgsql;

namespace Router.Actors.Storage;

/// <summary>
/// A session-level PostgreSQL advisory lock, held until disposed: schema creation done under it
/// by components that cannot lock themselves (the journal's auto-initialize) happens one node at
/// a time.
/// </summary>
public static class PostgresSchemaLock
{
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
