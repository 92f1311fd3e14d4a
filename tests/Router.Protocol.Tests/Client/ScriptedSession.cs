using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Router.Protocol.Tests.Client;

/// <summary>
/// The server side of one scripted connection: reads the client's lines (asserting them),
/// sends replies, captures DATA byte-for-byte, and can switch to TLS for STARTTLS (RFC 3207).
/// Every read is bounded by a timeout so a script never hangs a test.
/// </summary>
internal sealed class ScriptedSession : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _client;
    private readonly CancellationToken _stop;
    private Stream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public ScriptedSession(TcpClient client, CancellationToken stop)
    {
        _client = client;
        _stop = stop;
        _stream = client.GetStream();
        RemoteEndPoint = (IPEndPoint)client.Client.RemoteEndPoint!;
    }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>Every line the client sent, without its CRLF, in order (DATA content excluded).</summary>
    public List<string> Received { get; } = [];

    /// <summary>How many socket reads the session has made: lines that arrive in one read arrived in one batch.</summary>
    public int SocketReads { get; private set; }

    /// <summary>True when bytes from the client are buffered beyond what the script has read.</summary>
    public bool HasBufferedInput => _end > _start;

    /// <summary>Sends each line followed by CRLF, all in one write.</summary>
    public Task SendAsync(params string[] lines) => SendRawAsync(string.Concat(lines.Select(l => l + "\r\n")));

    public async Task SendRawAsync(string text)
    {
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(text), _stop);
        await _stream.FlushAsync(_stop);
    }

    public async Task<string> ReadLineAsync()
    {
        while (true)
        {
            var lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                var end = lf > _start && _buffer[lf - 1] == (byte)'\r' ? lf - 1 : lf;
                var line = Encoding.UTF8.GetString(_buffer, _start, end - _start);
                _start = lf + 1;
                Received.Add(line);
                return line;
            }
            if (!await FillAsync()) throw new EndOfStreamException("client closed the connection; lines so far: " + string.Join(" | ", Received));
        }
    }

    /// <summary>Reads one line per expected line and asserts each, in order.</summary>
    public async Task ExpectAsync(params string[] lines)
    {
        foreach (var expected in lines) Assert.Equal(expected, await ReadLineAsync());
    }

    /// <summary>One step of a dialogue: reads the client's <paramref name="command"/> (asserting it), then sends <paramref name="reply"/>.</summary>
    public async Task ExchangeAsync(string command, params string[] reply)
    {
        await ExpectAsync(command);
        await SendAsync(reply);
    }

    /// <summary>Reads DATA content up to and including the terminating ".CRLF", exactly as sent.</summary>
    public async Task<byte[]> ReadDataAsync()
    {
        var from = _start;
        while (true)
        {
            var span = _buffer.AsSpan(from, _end - from);
            var end = span.StartsWith(".\r\n"u8) ? 3 : span.IndexOf("\r\n.\r\n"u8) is var i and >= 0 ? i + 5 : -1;
            if (end >= 0)
            {
                var data = span[..end].ToArray();
                _start = from + end;
                return data;
            }
            if (!await FillAsync()) throw new EndOfStreamException("client closed the connection during DATA");
            from = _start;
        }
    }

    /// <summary>Waits until the client closes its side; asserts that it sent nothing more.</summary>
    public async Task ExpectCloseAsync()
    {
        var before = _end - _start;
        while (await FillAsync())
        {
        }
        Assert.Equal(before, _end - _start);
    }

    /// <summary>Takes the server side of a TLS handshake; buffered plaintext is discarded as RFC 3207 s4.2 requires.</summary>
    public async Task StartTlsAsync(X509Certificate2 certificate)
    {
        _start = _end = 0;
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, _stop);
        _stream = ssl;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }

    private async Task<bool> FillAsync()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop);
        timeout.CancelAfter(ReadTimeout);
        int n;
        try
        {
            n = await _stream.ReadAsync(_buffer.AsMemory(_end), timeout.Token);
        }
        catch (IOException)
        {
            return false;
        }
        SocketReads++;
        _end += n;
        return n > 0;
    }
}
