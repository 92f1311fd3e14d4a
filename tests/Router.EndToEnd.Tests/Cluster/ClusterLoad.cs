using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Router.Protocol.Client;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// SMTP load with exact bookkeeping, for the cluster tests: workers send messages, each with its
/// own Message-ID, round-robin over the nodes (moving on to the next node when one refuses the
/// connection or drops it), and record every outcome: accepted (250 after DATA), refused (a 4xx
/// or 5xx reply) or unknown (the connection broke mid-transaction). Message n goes to a local
/// mailbox (n % 3 == 0), a relay domain (n % 3 == 1), or both (n % 3 == 2), so every Message-ID
/// is expected exactly once in the Maildir and/or once at the sink.
/// </summary>
internal sealed class ClusterLoad
{
    private readonly string _token;
    private readonly IReadOnlyList<IPEndPoint> _targets;
    private readonly int _size;
    private readonly ConcurrentDictionary<string, Sent> _sent = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentBag<Task> _probes = [];
    private long _sequence;
    private long _probeSequence = 1_000_000;
    private long _nextTarget = -1;
    private long _connectionErrors;
    private volatile bool _stopping;

    public ClusterLoad(string token, IReadOnlyList<IPEndPoint> targets, int size = 2048)
    {
        _token = token;
        _targets = targets;
        _size = size;
    }

    /// <summary>Messages to send at most (then the workers stop by themselves).</summary>
    public long Limit { get; init; } = long.MaxValue;

    public TimeSpan Now => _clock.Elapsed;

    public long ConnectionErrors => Interlocked.Read(ref _connectionErrors);

    public IReadOnlyCollection<Sent> All => _sent.Values.ToArray();

    public IReadOnlyList<Sent> Accepted => _sent.Values.Where(s => s.Outcome == Outcome.Accepted).ToArray();

    public long AcceptedCount => _sent.Values.Count(s => s.Outcome == Outcome.Accepted);

    /// <summary>Runs <paramref name="workers"/> sessions until <see cref="Stop"/> or <see cref="Limit"/>; each finishes its transaction in flight.</summary>
    public Task RunAsync(int workers, CancellationToken ct) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() => WorkerAsync(ct), CancellationToken.None)));

    /// <summary>No new message starts; those in flight complete.</summary>
    public void Stop() => _stopping = true;

    /// <summary>
    /// Sends one message to <paramref name="mailbox"/> and/or <paramref name="remote"/> every
    /// <paramref name="interval"/> (open loop: a stuck attempt does not hold up the next), each on
    /// a fresh connection, round-robin over <paramref name="targets"/>, until one is accepted.
    /// Returns that one. Every attempt is recorded like the load's messages.
    /// </summary>
    public async Task<Sent> UntilAcceptedAsync(string? mailbox, string? remote, IReadOnlyList<IPEndPoint> targets, TimeSpan interval, TimeSpan timeout)
    {
        var accepted = new TaskCompletionSource<Sent>(TaskCreationOptions.RunContinuationsAsynchronously);
        var deadline = Now + timeout;
        for (var attempt = 0; !accepted.Task.IsCompleted; attempt++)
        {
            if (Now > deadline) throw new TimeoutException($"no message to {mailbox} {remote} accepted within {timeout.TotalSeconds:0} s");
            var target = targets[attempt % targets.Count];
            var probe = ProbeOnceAsync(target, mailbox, remote);
            _probes.Add(probe);
            _ = probe.ContinueWith(t => { if (t.Result?.Outcome == Outcome.Accepted) accepted.TrySetResult(t.Result); }, TaskScheduler.Default);
            await Task.WhenAny(accepted.Task, Task.Delay(interval));
        }
        return await accepted.Task;
    }

    /// <summary>Waits for every attempt of <see cref="UntilAcceptedAsync"/> still in flight.</summary>
    public Task DrainProbesAsync() => Task.WhenAll(_probes);

    private async Task<Sent?> ProbeOnceAsync(IPEndPoint target, string? mailbox, string? remote)
    {
        SmtpClientConnection? connection = null;
        try
        {
            connection = await SmtpClientConnection.ConnectAsync(target, Options, CancellationToken.None);
            if (!(await connection.EhloAsync(CancellationToken.None)).IsPositive) return null;
            var sent = await SendAsync(connection, Interlocked.Increment(ref _probeSequence), mailbox, remote, CancellationToken.None);
            try
            {
                if (connection.IsUsable) await connection.QuitAsync(CancellationToken.None);
            }
            catch (SmtpClientException)
            {
                // The message's outcome is known; how the session ends does not matter.
            }
            return sent;
        }
        catch (SmtpClientException)
        {
            Interlocked.Increment(ref _connectionErrors);
            return null;
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    /// <summary>The message body for sequence <paramref name="n"/> of a run marked <paramref name="token"/>.</summary>
    public static byte[] Message(string token, long n, string from, IReadOnlyList<string> to, int size)
    {
        var headers =
            $"Message-ID: <{MessageId(token, n)}>\r\nFrom: <{from}>\r\nTo: {string.Join(", ", to.Select(t => "<" + t + ">"))}\r\n" +
            $"Subject: cluster {token} {n}\r\nDate: Sun, 29 Nov 2026 15:00:00 +0000\r\n\r\n";
        var sb = new StringBuilder(headers, size + 128);
        var line = 0;
        while (sb.Length + 2 < size)
        {
            var text = $"{n}:{line++} The quick brown fox jumps over the lazy dog, 0123456789.";
            sb.Append(text.AsSpan(0, Math.Min(text.Length, Math.Max(1, size - sb.Length - 2)))).Append("\r\n");
        }
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    public static string MessageId(string token, long n) => $"{n}.{token}@cluster.test";

    /// <summary>The recipients of message <paramref name="n"/>: a mailbox, a relay address, or both.</summary>
    public static (string? Mailbox, string? Remote) Recipients(long n)
    {
        var mailbox = ClusterFixture.Mailboxes[(int)(n / 3 % ClusterFixture.MailboxCount)];
        var remote = $"r{n % 50}@{ClusterFixture.RelayDomains[(int)(n / 3 % ClusterFixture.RelayDomainCount)]}";
        return (n % 3) switch
        {
            0 => (mailbox, null),
            1 => (null, remote),
            _ => (mailbox, remote),
        };
    }

    private async Task WorkerAsync(CancellationToken ct)
    {
        SmtpClientConnection? connection = null;
        var refusedInARow = 0;
        try
        {
            while (!_stopping && !ct.IsCancellationRequested)
            {
                if (connection is not { IsUsable: true })
                {
                    if (connection is not null) await connection.DisposeAsync();
                    connection = await ConnectAsync(ct);
                    if (connection is null)
                    {
                        // Every node refused in turn (all restarting?): pace the reconnects a little.
                        if (++refusedInARow % _targets.Count == 0) await Task.Delay(100, ct);
                        continue;
                    }
                    refusedInARow = 0;
                }
                var n = Interlocked.Increment(ref _sequence);
                if (n > Limit) break;
                var (mailbox, remote) = Recipients(n);
                await SendAsync(connection, n, mailbox, remote, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            // A slow QUIT does not matter at the end of a run.
            if (connection is not null) await connection.CloseAsync(TimeSpan.FromSeconds(5));
        }
    }

    private async Task<SmtpClientConnection?> ConnectAsync(CancellationToken ct)
    {
        var target = _targets[(int)(Interlocked.Increment(ref _nextTarget) % _targets.Count)];
        SmtpClientConnection? connection = null;
        try
        {
            connection = await SmtpClientConnection.ConnectAsync(target, Options, ct);
            var ehlo = await connection.EhloAsync(ct);
            if (ehlo.IsPositive) return connection;
        }
        catch (SmtpClientException)
        {
        }
        Interlocked.Increment(ref _connectionErrors);
        if (connection is not null) await connection.DisposeAsync();
        return null;
    }

    private async Task<Sent> SendAsync(SmtpClientConnection connection, long n, string? mailbox, string? remote, CancellationToken ct)
    {
        var to = new[] { mailbox, remote }.OfType<string>().ToArray();
        var from = "load@sender.test";
        var sent = new Sent(MessageId(_token, n), n, mailbox, remote, connection.RemoteEndPoint.Port, Now);
        _sent[sent.Id] = sent;
        Outcome outcome;
        try
        {
            var result = await connection.SendAsync(new SmtpEnvelope(from, to), Message(_token, n, from, to, _size), ct);
            outcome = result.Delivered ? Outcome.Accepted : Outcome.Refused;
            sent.Reply = (result.DataReply ?? result.RecipientReplies.FirstOrDefault(r => !r.IsPositive) ?? result.MailReply)?.ToString();
        }
        catch (SmtpClientException e)
        {
            outcome = Outcome.Unknown;
            sent.Reply = e.Message;
            Interlocked.Increment(ref _connectionErrors);
        }
        sent.RepliedAt = Now;
        sent.Outcome = outcome; // last: a reader that sees the outcome sees the rest (volatile)
        return sent;
    }

    private static SmtpClientOptions Options { get; } = new()
    {
        LocalHostName = "load.cluster.test",
        ConnectTimeout = TimeSpan.FromSeconds(5),
        GreetingTimeout = TimeSpan.FromSeconds(30),
        CommandTimeout = TimeSpan.FromSeconds(30),
        MailTimeout = TimeSpan.FromSeconds(30),
        RcptTimeout = TimeSpan.FromSeconds(30),
        DataInitTimeout = TimeSpan.FromSeconds(30),
        DataBlockTimeout = TimeSpan.FromSeconds(30),
        DataTerminationTimeout = TimeSpan.FromSeconds(60),
    };

    public enum Outcome
    {
        Pending,
        Accepted,
        Refused,
        Unknown,
    }

    /// <summary>One message: where it went, when, and what came of it.</summary>
    public sealed class Sent(string id, long sequence, string? mailbox, string? remote, int port, TimeSpan startedAt)
    {
        public string Id { get; } = id;
        public long Sequence { get; } = sequence;
        public string? Mailbox { get; } = mailbox;
        public string? Remote { get; } = remote;
        public int Port { get; } = port;
        public TimeSpan StartedAt { get; } = startedAt;
        private volatile Outcome _outcome;

        public Outcome Outcome { get => _outcome; set => _outcome = value; }
        public string? Reply { get; set; }
        public TimeSpan RepliedAt { get; set; }

        /// <summary>The owners this message needs: "mailbox:ADDR" and/or "domain:DOMAIN".</summary>
        public IEnumerable<string> Owners
        {
            get
            {
                if (Mailbox is not null) yield return "mailbox:" + Mailbox;
                if (Remote is not null) yield return "domain:" + Remote[(Remote.IndexOf('@') + 1)..];
            }
        }
    }
}
