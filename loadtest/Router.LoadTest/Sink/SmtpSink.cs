using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Router.LoadTest.Sink;

/// <summary>
/// A fast counting SMTP server (RFC 5321 with RFC 2920 pipelining) that accepts, temp-fails or
/// perm-fails recipients by rule or by fraction, measures end-to-end latency from the
/// X-Loadtest-Sent header, and publishes its counters to a JSON stats file. Usable in-process
/// (tests, relay checks) or as `loadtest sink`.
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly FailureSchedule _schedule;
    private readonly ConcurrentDictionary<Task, bool> _sessions = new();
    private readonly ConcurrentQueue<SinkMessage> _captured = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private Task? _statsLoop;
    private int _stopped;

    public SmtpSink(SinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _schedule = new FailureSchedule(options.TempFailFraction, options.PermFailFraction);
    }

    public SinkOptions Options { get; }

    /// <summary>The bound address, with the real port when <see cref="SinkOptions.Listen"/> asked for port 0.</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.None, 0);

    public SinkStats Stats => Counters.Snapshot(EndPoint.ToString());

    /// <summary>Accepted messages, in arrival order, when <see cref="SinkOptions.CaptureMessages"/> is on.</summary>
    public IReadOnlyCollection<SinkMessage> Messages => _captured;

    internal SinkCounters Counters { get; } = new();

    public Task StartAsync(CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        if (_listener is not null) throw new InvalidOperationException("The sink is already started.");
        if (Options.Maildir is { } maildir) MaildirWriter.Create(maildir);
        var listener = new Socket(Options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(Options.Listen);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync(listener, _stop.Token);
        if (Options.StatsFile is not null) _statsLoop = StatsLoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    /// <summary>Closes the listener and every session, then writes the stats file one last time.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1 || _listener is null) return;
        await _stop.CancelAsync();
        _listener.Dispose();
        if (_acceptLoop is not null) await _acceptLoop;
        await Task.WhenAll(_sessions.Keys);
        if (_statsLoop is not null) await _statsLoop;
        await WriteStatsAsync(CancellationToken.None);
    }

    /// <summary>Waits until the counters satisfy <paramref name="condition"/>; returns that snapshot. Throws TimeoutException.</summary>
    public async Task<SinkStats> WaitUntilAsync(Func<SinkStats, bool> condition, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        while (true)
        {
            var changed = Counters.Changed;
            var stats = Stats;
            if (condition(stats)) return stats;
            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"sink condition not met within {timeout}; last stats: {Stats}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    /// <summary>The reply code for one RCPT: the first matching rule, else the failure schedule.</summary>
    internal int Decide(string? address)
    {
        if (address is not null)
        {
            foreach (var rule in Options.Rules)
            {
                if (rule.Pattern.IsMatch(address)) return rule.Code;
            }
        }
        return _schedule.Next();
    }

    internal void Capture(SinkMessage message) => _captured.Enqueue(message);

    private async Task AcceptLoopAsync(Socket listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(ct);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (ct.IsCancellationRequested) return;
                continue;
            }
            socket.NoDelay = true;
            Interlocked.Increment(ref Counters.Connections);
            var active = Interlocked.Increment(ref Counters.ActiveConnections);
            var turnAway = Options.MaxConnections > 0 && active > Options.MaxConnections;
            if (turnAway) Interlocked.Increment(ref Counters.ConnectionsTurnedAway);
            else SinkCounters.RaisePeak(ref Counters.PeakConnections, active);
            Counters.Signal();
            var session = RunSessionAsync(socket, turnAway, ct);
            _sessions.TryAdd(session, true);
            _ = session.ContinueWith(t => _sessions.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task RunSessionAsync(Socket socket, bool turnAway, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            await new SinkSession(this, socket).RunAsync(turnAway, ct);
        }
        finally
        {
            Interlocked.Decrement(ref Counters.ActiveConnections);
            Counters.Signal();
        }
    }

    private async Task StatsLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        try
        {
            do
            {
                await WriteStatsAsync(ct);
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
            // Stopping; StopAsync writes the final stats.
        }
    }

    /// <summary>Writes to a temporary file and renames it over the stats file, so a poller never reads half a file.</summary>
    private async Task WriteStatsAsync(CancellationToken ct)
    {
        if (Options.StatsFile is not { } path) return;
        var tmp = path + ".tmp";
        await File.WriteAllBytesAsync(tmp, JsonSerializer.SerializeToUtf8Bytes(Stats, LoadTestJsonContext.Default.SinkStats), ct);
        File.Move(tmp, path, overwrite: true);
    }
}
