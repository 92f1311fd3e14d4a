using System.Net;
using Router.Actors.Configuration;
using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>
/// Per-client counters shared by every listener, like Postfix's anvil(8): connections open in
/// total and per client address, connections and messages per client in the last minute, and
/// failed AUTH attempts per client and user name in the failure window. Clients in the trusted networks are
/// exempt from the per-client limits (as Postfix exempts $mynetworks), not from the total.
/// A limit of 0 is no limit. Thread-safe: sessions and listeners call it from any thread.
/// </summary>
public sealed class ClientLimits
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private readonly object _gate = new();
    private readonly Dictionary<IPAddress, Client> _clients = [];
    private readonly RouterSettings _settings;
    private readonly TimeProvider _clock;
    private readonly int _maxConnections;
    private int _open;
    private int _sinceSweep;

    /// <param name="maxConnections">Connections at once in total, if not <c>limits.max-connections</c> (<see cref="DescriptorBudget"/>).</param>
    public ClientLimits(RouterSettings settings, TimeProvider? clock = null, int? maxConnections = null)
    {
        _settings = settings;
        _clock = clock ?? TimeProvider.System;
        _maxConnections = maxConnections ?? settings.MaxConnections;
    }

    /// <summary>Connections open now, in total.</summary>
    public int OpenConnections
    {
        get
        {
            lock (_gate) return _open;
        }
    }

    /// <summary>Counts a new connection, or returns the 421 that refuses it (then nothing is counted).</summary>
    public SmtpReply? TryOpen(IPAddress address, bool exempt)
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            if (_maxConnections > 0 && _open >= _maxConnections) return Replies.TooManyConnections;
            var client = Get(Normalize(address));
            if (!exempt)
            {
                if (_settings.MaxConnectionsPerClient > 0 && client.Open >= _settings.MaxConnectionsPerClient) return Replies.TooManyConnectionsFromClient;
                if (!client.Connections.TryAdd(now, Minute, _settings.ConnectionRatePerMinute)) return Replies.ConnectionRateExceeded;
            }
            client.Open++;
            _open++;
            if (++_sinceSweep >= 1024) Sweep(now);
            return null;
        }
    }

    /// <summary>Releases a connection counted by <see cref="TryOpen"/>.</summary>
    public void Close(IPAddress address)
    {
        lock (_gate)
        {
            _open--;
            if (_clients.TryGetValue(Normalize(address), out var client)) client.Open--;
        }
    }

    /// <summary>Counts a MAIL command, or returns 450 4.7.1 when the client sent too many this minute.</summary>
    public SmtpReply? TryStartMessage(IPAddress address, bool exempt)
    {
        if (exempt) return null;
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            return Get(Normalize(address)).Messages.TryAdd(now, Minute, _settings.MessageRatePerMinute) ? null : Replies.MessageRateExceeded;
        }
    }

    /// <summary>
    /// An address with this many times router.auth.max-failures failed AUTH attempts, whatever the
    /// user names, is cut off (password spraying); a single user name is locked at max-failures.
    /// </summary>
    public const int AddressFailureFactor = 5;

    /// <summary>Failed AUTH attempts from this address within the failure window, all user names together.</summary>
    public int AuthFailures(IPAddress address)
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            if (!_clients.TryGetValue(Normalize(address), out var client)) return 0;
            client.AuthFailures.Trim(now, _settings.Security.AuthFailureWindow);
            return client.AuthFailures.Count;
        }
    }

    /// <summary>Failed AUTH attempts for <paramref name="user"/> from this address within the failure window.</summary>
    public int AuthFailures(IPAddress address, string user)
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            if (!_clients.TryGetValue(Normalize(address), out var client) || !client.UserAuthFailures.TryGetValue(user, out var failures)) return 0;
            failures.Trim(now, _settings.Security.AuthFailureWindow);
            return failures.Count;
        }
    }

    /// <summary>Records a failed AUTH for <paramref name="user"/>; returns that user's failures from this address within the window, this one included.</summary>
    public int RecordAuthFailure(IPAddress address, string user)
    {
        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            var client = Get(Normalize(address));
            client.AuthFailures.TryAdd(now, _settings.Security.AuthFailureWindow, limit: 0);
            if (!client.UserAuthFailures.TryGetValue(user, out var failures)) client.UserAuthFailures[user] = failures = new EventWindow();
            failures.TryAdd(now, _settings.Security.AuthFailureWindow, limit: 0);
            return failures.Count;
        }
    }

    /// <summary>A successful AUTH forgets that user's failures from this address (the address's total stays).</summary>
    public void ClearAuthFailures(IPAddress address, string user)
    {
        lock (_gate)
        {
            if (_clients.TryGetValue(Normalize(address), out var client)) client.UserAuthFailures.Remove(user);
        }
    }

    private Client Get(IPAddress address)
    {
        if (!_clients.TryGetValue(address, out var client)) _clients[address] = client = new Client();
        return client;
    }

    private void Sweep(DateTimeOffset now)
    {
        _sinceSweep = 0;
        foreach (var (address, client) in _clients.ToArray())
        {
            client.Connections.Trim(now, Minute);
            client.Messages.Trim(now, Minute);
            client.AuthFailures.Trim(now, _settings.Security.AuthFailureWindow);
            foreach (var (user, failures) in client.UserAuthFailures.ToArray())
            {
                failures.Trim(now, _settings.Security.AuthFailureWindow);
                if (failures.Count == 0) client.UserAuthFailures.Remove(user);
            }
            if (client.Open == 0 && client.Connections.Count == 0 && client.Messages.Count == 0 && client.AuthFailures.Count == 0) _clients.Remove(address);
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private sealed class Client
    {
        public int Open { get; set; }
        public EventWindow Connections { get; } = new();
        public EventWindow Messages { get; } = new();
        public EventWindow AuthFailures { get; } = new();

        /// <summary>Per user name as the client gave it (case-insensitive).</summary>
        public Dictionary<string, EventWindow> UserAuthFailures { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The times of recent events, oldest first; a sliding window over them.</summary>
    private sealed class EventWindow
    {
        private readonly Queue<DateTimeOffset> _events = new();

        public int Count => _events.Count;

        public void Trim(DateTimeOffset now, TimeSpan window)
        {
            while (_events.Count > 0 && now - _events.Peek() >= window) _events.Dequeue();
        }

        /// <summary>Adds an event unless <paramref name="limit"/> (0 = none) were already seen in the window.</summary>
        public bool TryAdd(DateTimeOffset now, TimeSpan window, int limit)
        {
            Trim(now, window);
            if (limit > 0 && _events.Count >= limit) return false;
            _events.Enqueue(now);
            return true;
        }
    }
}
