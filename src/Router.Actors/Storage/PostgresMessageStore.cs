using System.Data;
using Npgsql;
using NpgsqlTypes;

namespace Router.Actors.Storage;

/// <summary>
/// Message bodies in PostgreSQL, for a cluster: every node can read what any node accepted.
/// One row per body and one row per owner's reference; releasing the last reference deletes
/// the body. Commits are durable (fsync) and PostgreSQL groups the commits of concurrent sessions.
/// Each body carries its acceptance deadline (<c>accept_by</c>, PostgreSQL's clock, like every
/// time the sweep compares it with), so that every node judges a reference's age by one clock.
/// </summary>
public sealed class PostgresMessageStore : IMessageStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;

    private PostgresMessageStore(NpgsqlDataSource source) => _source = source;

    public static async Task<PostgresMessageStore> OpenAsync(string connectionString)
    {
        var store = new PostgresMessageStore(NpgsqlDataSource.Create(connectionString));
        await PostgresSchemaLock.CreateAsync(store._source, "router_bodies", """
            CREATE TABLE IF NOT EXISTS router_bodies (queue_id text PRIMARY KEY, data bytea NOT NULL, stored_at timestamptz NOT NULL DEFAULT now(), accept_by timestamptz);
            CREATE TABLE IF NOT EXISTS router_body_refs (queue_id text NOT NULL, owner text NOT NULL, PRIMARY KEY (queue_id, owner));
            CREATE TABLE IF NOT EXISTS router_body_sweep (id int PRIMARY KEY, claimed_at timestamptz NOT NULL);
            DO $$ BEGIN
              -- A database from before accept_by: the column is added once (an ALTER that finds it
              -- would still wait for, and then block, every body read in flight).
              IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                             WHERE table_schema = current_schema() AND table_name = 'router_bodies' AND column_name = 'accept_by') THEN
                ALTER TABLE router_bodies ADD COLUMN accept_by timestamptz;
              END IF;
            END $$;
            """).ConfigureAwait(false);
        return store;
    }

    public async Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body, TimeSpan acceptWithin)
    {
        var data = new byte[trace.Length + body.Length];
        trace.CopyTo(data);
        body.CopyTo(data.AsMemory(trace.Length));
        await using var connection = await _source.OpenConnectionAsync().ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO router_bodies (queue_id, data, accept_by) VALUES (@id, @data, now() + @within) ON CONFLICT (queue_id) DO NOTHING;
            INSERT INTO router_body_refs (queue_id, owner) SELECT @id, unnest(@owners::text[]) ON CONFLICT DO NOTHING;
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter<string>("id", queueId));
            insert.Parameters.Add(new NpgsqlParameter<byte[]>("data", data) { NpgsqlDbType = NpgsqlDbType.Bytea });
            insert.Parameters.Add(new NpgsqlParameter<string[]>("owners", owners.ToArray()));
            insert.Parameters.Add(new NpgsqlParameter<TimeSpan>("within", acceptWithin));
            await insert.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await transaction.CommitAsync().ConfigureAwait(false);
    }

    public async Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct)
    {
        await using var command = _source.CreateCommand(
            "SELECT b.data FROM router_bodies b JOIN router_body_refs r ON r.queue_id = b.queue_id WHERE b.queue_id = $1 AND r.owner = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = queueId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
        // Not ExecuteScalarAsync: it reads a large value with blocking reads of the socket, which
        // hold a thread for as long as a body of megabytes takes to arrive.
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct).ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? await reader.GetFieldValueAsync<byte[]>(0, ct).ConfigureAwait(false) : null;
    }

    public async Task ReleaseAsync(string queueId, string owner)
    {
        // Two commits, in this order: whichever of two concurrent releases checks last sees both
        // references gone, so the body cannot be left behind.
        await using (var release = _source.CreateCommand("DELETE FROM router_body_refs WHERE queue_id = $1 AND owner = $2"))
        {
            release.Parameters.Add(new NpgsqlParameter<string> { TypedValue = queueId });
            release.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
            await release.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await using var drop = _source.CreateCommand(
            "DELETE FROM router_bodies b WHERE b.queue_id = $1 AND NOT EXISTS (SELECT 1 FROM router_body_refs r WHERE r.queue_id = $1)");
        drop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = queueId });
        await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// When a body's acceptance ended, for the sweep: its deadline, or for a body stored by a
    /// node from before the deadline was kept, ten minutes after it was stored (above the 9-minute
    /// ceiling of any acknowledgement timeout, <see cref="Configuration.RouterSettings.AckTimeoutFor"/>).
    /// </summary>
    private const string AcceptanceEnded = "COALESCE(b.accept_by, b.stored_at + interval '10 minutes')";

    public async Task<IReadOnlyList<string>> ListAsync(string owner, TimeSpan grace)
    {
        await using var command = _source.CreateCommand(
            $"SELECT r.queue_id FROM router_body_refs r JOIN router_bodies b ON b.queue_id = r.queue_id WHERE r.owner = $1 AND {AcceptanceEnded} < now() - $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = grace });
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false)) ids.Add(reader.GetString(0));
        return ids;
    }

    public async Task<IReadOnlyList<StoredReference>> StaleReferencesAsync(TimeSpan grace)
    {
        // One pass over the two tables (the bodies' data stays out of it): no index on owner needed.
        await using var command = _source.CreateCommand(
            $"SELECT r.queue_id, r.owner FROM router_body_refs r JOIN router_bodies b ON b.queue_id = r.queue_id WHERE {AcceptanceEnded} < now() - $1");
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = grace });
        var references = new List<StoredReference>();
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false)) references.Add(new StoredReference(reader.GetString(0), reader.GetString(1)));
        return references;
    }

    public async Task<int> DropUnreferencedAsync(TimeSpan grace)
    {
        await using var command = _source.CreateCommand(
            $"DELETE FROM router_bodies b WHERE {AcceptanceEnded} < now() - $1 AND NOT EXISTS (SELECT 1 FROM router_body_refs r WHERE r.queue_id = b.queue_id)");
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = grace });
        return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public async Task<bool> ClaimSweepAsync(TimeSpan interval)
    {
        // One row: its lock orders concurrent claims, and only the first finds the last claim old
        // enough. PostgreSQL's clock, as everywhere the sweep judges time.
        await using var command = _source.CreateCommand("""
            INSERT INTO router_body_sweep (id, claimed_at) VALUES (1, now())
            ON CONFLICT (id) DO UPDATE SET claimed_at = now() WHERE router_body_sweep.claimed_at <= now() - $1
            RETURNING 1
            """);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = interval });
        return await command.ExecuteScalarAsync().ConfigureAwait(false) is not null;
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
