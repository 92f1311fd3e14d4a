using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// A minimal receiving SMTP server on 127.0.0.1 for the delivery actor's tests (RFC 5321 with
/// PIPELINING: each command is answered in order as it is read). It answers MAIL, RCPT and DATA
/// as the test sets (<see cref="RcptReply"/> per address) and records every accepted message; <see cref="Received"/>
/// completes when a given number have arrived.
/// </summary>
internal sealed class RecordingSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<(string From, string[] To, string Data)> _messages = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private readonly ConcurrentQueue<string> _rcptLines = new();
    private readonly Task _accepting;
    private int _connections;
    private int _open;
    private int _turnedAway;

    public RecordingSmtpServer()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The RCPT reply for an address ("250 2.1.5 Ok" by default).</summary>
    public Func<string, string> RcptReply { get; set; } = _ => "250 2.1.5 Ok";

    /// <summary>The MAIL reply ("250 2.1.0 Ok" by default); anything else refuses the transaction.</summary>
    public string MailReply { get; set; } = "250 2.1.0 Ok";

    /// <summary>The greeting ("220 sink.test ESMTP" by default); one that is not 220 is followed by hanging up.</summary>
    public string Greeting { get; set; } = "220 sink.test ESMTP";

    /// <summary>Connections open at once beyond which a new one is greeted "421 4.7.0 Too many connections" and closed (0: no limit), as providers limit a client's connections.</summary>
    public int MaxOpen { get; set; }

    /// <summary>Connections greeted with 421 because of <see cref="MaxOpen"/>.</summary>
    public int TurnedAway => Volatile.Read(ref _turnedAway);

    /// <summary>Offers 8BITMIME (RFC 6152); on by default.</summary>
    public bool Offers8BitMime { get; set; } = true;

    /// <summary>Offers DSN (RFC 3461); off by default.</summary>
    public bool OffersDsn { get; set; }

    /// <summary>The RCPT command lines received, as sent (with their parameters).</summary>
    public IReadOnlyCollection<string> RcptLines => _rcptLines;

    /// <summary>Offers STARTTLS, answers it with 220, then sends plaintext and hangs up: a TLS handshake that always fails.</summary>
    public bool BrokenStartTls { get; set; }

    /// <summary>The reply to DATA with recipients ("354 Go ahead" by default); anything else is sent instead, and no content is read.</summary>
    public string DataReply { get; set; } = "354 Go ahead";

    /// <summary>Awaited after a message's content is read and before it is recorded and answered: a test holds transactions open with it.</summary>
    public Func<Task> BeforeDataReply { get; set; } = () => Task.CompletedTask;

    public IReadOnlyCollection<(string From, string[] To, string Data)> Messages => _messages;

    /// <summary>Completes once <paramref name="count"/> messages have been accepted in total.</summary>
    public Task Received(int count)
    {
        lock (_waiters)
        {
            if (_messages.Count >= count) return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var open = Interlocked.Increment(ref _open);
        try
        {
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.Latin1);
            await using var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
            var greeting = Greeting;
            if (MaxOpen > 0 && open > MaxOpen)
            {
                Interlocked.Increment(ref _turnedAway);
                greeting = "421 4.7.0 Too many connections";
            }
            await writer.WriteLineAsync(greeting);
            if (!greeting.StartsWith("220", StringComparison.Ordinal)) return;
            string? from = null;
            var to = new List<string>();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line.ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await writer.WriteLineAsync("250-sink.test\r\n250-PIPELINING\r\n" + (BrokenStartTls ? "250-STARTTLS\r\n" : "") + (OffersDsn ? "250-DSN\r\n" : "") + (Offers8BitMime ? "250 8BITMIME" : "250 HELP"));
                        break;
                    case "STAR":
                        await writer.WriteLineAsync("220 2.0.0 Ready to start TLS");
                        // The client's hello first: a reply ahead of it would be an injection, another failure.
                        await stream.ReadAtLeastAsync(new byte[512], 1, throwOnEndOfStream: false, _stop.Token);
                        await writer.WriteLineAsync("this is not a TLS handshake");
                        return;
                    case "MAIL":
                        from = MailReply.StartsWith('2') ? Path(line) : null;
                        to.Clear();
                        await writer.WriteLineAsync(MailReply);
                        break;
                    case "RCPT":
                        _rcptLines.Enqueue(line);
                        var reply = from is null ? "503 5.5.1 MAIL first" : RcptReply(Path(line));
                        if (reply.StartsWith('2')) to.Add(Path(line));
                        await writer.WriteLineAsync(reply);
                        break;
                    case "DATA":
                        if (to.Count == 0)
                        {
                            await writer.WriteLineAsync("554 5.5.1 No valid recipients");
                            break;
                        }
                        await writer.WriteLineAsync(DataReply);
                        if (!DataReply.StartsWith("354", StringComparison.Ordinal)) break;
                        var data = new StringBuilder();
                        while (await reader.ReadLineAsync(_stop.Token) is { } body && body != ".") data.Append(body).Append("\r\n");
                        await BeforeDataReply();
                        Record(from!, [.. to], data.ToString());
                        await writer.WriteLineAsync("250 2.0.0 Ok: queued");
                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 2.0.0 Bye");
                        return;
                    default:
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client hung up or the server is stopping.
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    private void Record(string from, string[] to, string data)
    {
        _messages.Enqueue((from, to, data));
        lock (_waiters)
        {
            foreach (var waiter in _waiters.Where(w => _messages.Count >= w.Count).ToArray())
            {
                waiter.Done.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    private static string Path(string line)
    {
        var open = line.IndexOf('<', StringComparison.Ordinal);
        var close = line.IndexOf('>', StringComparison.Ordinal);
        return open >= 0 && close > open ? line[(open + 1)..close] : "";
    }
}
