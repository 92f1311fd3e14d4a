using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.EndToEnd.Tests.LoadTest;

/// <summary>
/// A loopback SMTP server (no extensions, one command at a time) that accepts every message and
/// never answers QUIT: it keeps the connection open until it is disposed, as a stuck peer would.
/// </summary>
internal sealed class SilentQuitServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _sessions = [];
    private readonly Task _accepting;

    public SilentQuitServer()
    {
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        await Task.WhenAll(_sessions);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true) _sessions.Add(ServeAsync(await _listener.AcceptTcpClientAsync(_stop.Token)));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var ct = _stop.Token;
        try
        {
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII);
            async Task ReplyAsync(string line) => await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"), ct);
            await ReplyAsync("220 silent.test ESMTP");
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                var verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line;
                if (verb == "QUIT")
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                else if (verb == "DATA")
                {
                    await ReplyAsync("354 go ahead");
                    while (await reader.ReadLineAsync(ct) is { } body && body != ".")
                    {
                    }
                    await ReplyAsync("250 2.0.0 queued");
                }
                else await ReplyAsync(verb is "EHLO" or "HELO" or "MAIL" or "RCPT" or "RSET" ? "250 ok" : "502 no");
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // Disposed, or the client hung up.
        }
    }
}
