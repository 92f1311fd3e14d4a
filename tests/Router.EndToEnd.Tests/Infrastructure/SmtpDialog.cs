using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A chasquid-style SMTP dialog over a raw socket: the test writes exact bytes (bare LF, NUL,
/// split writes, whatever MailKit would never send) and expects replies by code prefix. Reads
/// are bounded by <see cref="Timeout"/>, so a missing reply fails the test instead of hanging it.
/// </summary>
public sealed class SmtpDialog : IAsyncDisposable, IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly LineReader _lines = new(keepUnterminatedLastLine: true);

    private SmtpDialog(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Every reply read so far, in order.</summary>
    public List<SmtpResponse> Transcript { get; } = [];

    /// <param name="port">The router's port on 127.0.0.1.</param>
    /// <param name="from">A loopback source address (e.g. 127.0.0.2, an untrusted client); null = the default.</param>
    public static Task<SmtpDialog> ConnectAsync(int port, IPAddress? from = null) => ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), from);

    /// <param name="server">A router's listener on a loopback address, IPv4 or IPv6 ([::1]).</param>
    /// <param name="from">A loopback source address of the same family; null = the default.</param>
    public static async Task<SmtpDialog> ConnectAsync(IPEndPoint server, IPAddress? from = null)
    {
        var client = new TcpClient(server.AddressFamily) { NoDelay = true };
        try
        {
            if (from is not null) client.Client.Bind(new IPEndPoint(from, 0));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await client.ConnectAsync(server, cts.Token);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        return new SmtpDialog(client);
    }

    /// <summary>Sends the text as Latin-1 bytes, exactly (no line ending added).</summary>
    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(bytes, cts.Token);
    }

    public Task SendLineAsync(string line) => SendAsync(line + "\r\n");

    /// <summary>Sends one command line and expects its reply (c -> line, c &lt;~ prefix).</summary>
    public async Task<SmtpResponse> CommandAsync(string line, string expected)
    {
        await SendLineAsync(line);
        return await ExpectAsync(expected);
    }

    /// <summary>Reads one reply and asserts its last line starts with <paramref name="prefix"/> (e.g. "250" or "550 5.1.1").</summary>
    public async Task<SmtpResponse> ExpectAsync(string prefix)
    {
        var reply = await ReadReplyAsync();
        Assert.True(reply.Lines[^1].StartsWith(prefix, StringComparison.Ordinal),
            $"expected a reply starting with '{prefix}', got:\n{reply}\ntranscript:\n{string.Join("\n", Transcript)}");
        return reply;
    }

    /// <summary>Reads one complete (possibly multi-line) reply.</summary>
    public async Task<SmtpResponse> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync() ?? throw new IOException($"connection closed in the middle of a reply; lines so far: {string.Join(" | ", lines)}");
            lines.Add(line);
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), out var code))
                throw new InvalidDataException($"not an SMTP reply line: '{line}'");
            if (line.Length == 3 || line[3] == ' ')
            {
                var reply = new SmtpResponse(code, lines);
                Transcript.Add(reply);
                return reply;
            }
            if (line[3] != '-') throw new InvalidDataException($"not an SMTP reply line: '{line}'");
        }
    }

    /// <summary>Asserts the server closes the connection with no further reply.</summary>
    public async Task ExpectClosedAsync()
    {
        var line = await ReadLineAsync();
        Assert.True(line is null, $"expected the connection to close, got '{line}'");
    }

    /// <summary>Reads whatever the server sends until it closes the connection; returns it as text.</summary>
    public async Task<string> ReadToCloseAsync()
    {
        var sb = new StringBuilder();
        while (await ReadLineAsync() is { } line) sb.Append(line).Append('\n');
        return sb.ToString();
    }

    public void Dispose() => _client.Dispose();

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>One line without CRLF, or null at end of stream (or a reset: the peer is gone either way); a last line without CRLF is kept.</summary>
    private Task<string?> ReadLineAsync() => _lines.ReadLineAsync(_stream, Timeout, () => "transcript:\n" + string.Join("\n", Transcript));
}
