using Router.Protocol.Client;

namespace Router.Actors.Delivery;

/// <summary>
/// Open SMTP connections to one destination's hosts, kept between messages (Postfix's
/// connection cache): a connection goes back after a transaction while it is usable and under
/// the per-connection message limit, and is closed after sitting idle too long. A connection that
/// authenticated (AUTH) is handed out only for its next hop and user, so mail never goes out
/// under credentials meant for another route. Thread-safe: delivery attempts run concurrently.
/// </summary>
public sealed class ConnectionPool(int maxMessagesPerConnection, TimeSpan idleTimeout) : IAsyncDisposable
{
    /// <summary>How long a connection being closed waits for the reply to its QUIT.</summary>
    private static readonly TimeSpan QuitTimeout = TimeSpan.FromSeconds(5);

    private readonly object _gate = new();
    private readonly List<(string Host, SmtpClientConnection Connection, DateTimeOffset Since)> _idle = [];
    private long _opened;
    private bool _disposed;

    /// <summary>Connections opened so far (tests and metrics check reuse with it).</summary>
    public long Opened => Interlocked.Read(ref _opened);

    public int IdleCount
    {
        get
        {
            lock (_gate) return _idle.Count;
        }
    }

    public void CountOpened() => Interlocked.Increment(ref _opened);

    /// <summary>An idle connection to <paramref name="host"/> ("host:port") authenticated as <paramref name="user"/> (null: not authenticated), or null.</summary>
    public SmtpClientConnection? TryTake(string host, string? user = null)
    {
        lock (_gate)
        {
            for (var i = _idle.Count - 1; i >= 0; i--)
            {
                if (_idle[i].Host != host || _idle[i].Connection.AuthenticatedUser != user) continue;
                var connection = _idle[i].Connection;
                _idle.RemoveAt(i);
                if (connection.IsUsable) return connection;
                _ = connection.DisposeAsync().AsTask();
            }
        }
        return null;
    }

    /// <summary>Keeps a connection after its transaction, or closes it (no longer usable, at its message limit, or the pool is closed: an attempt may end after its queue stopped).</summary>
    public void Return(string host, SmtpClientConnection connection)
    {
        lock (_gate)
        {
            if (!_disposed && connection.IsUsable && connection.TransactionCount < maxMessagesPerConnection)
            {
                _idle.Add((host, connection, DateTimeOffset.UtcNow));
                return;
            }
        }
        _ = connection.CloseAsync(QuitTimeout);
    }

    /// <summary>Closes connections idle for longer than the timeout.</summary>
    public void Sweep()
    {
        var now = DateTimeOffset.UtcNow;
        List<SmtpClientConnection> expired = [];
        lock (_gate)
        {
            for (var i = _idle.Count - 1; i >= 0; i--)
            {
                if (now - _idle[i].Since < idleTimeout) continue;
                expired.Add(_idle[i].Connection);
                _idle.RemoveAt(i);
            }
        }
        foreach (var connection in expired) _ = connection.CloseAsync(QuitTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        List<SmtpClientConnection> all;
        lock (_gate)
        {
            _disposed = true;
            all = _idle.Select(i => i.Connection).ToList();
            _idle.Clear();
        }
        foreach (var connection in all) await connection.CloseAsync(QuitTimeout).ConfigureAwait(false);
    }
}
