using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// A raw SMTP dialog that can switch to TLS mid-way (STARTTLS) or start in it (implicit TLS),
/// accepting any server certificate and keeping the one it saw. Reads are bounded by a timeout.
/// </summary>
internal sealed class TlsDialog : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TcpClient _client;
    private readonly LineReader _lines = new(keepUnterminatedLastLine: false);
    private Stream _stream;

    private TlsDialog(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public X509Certificate2? ServerCertificate { get; private set; }

    public static async Task<TlsDialog> ConnectAsync(int port, IPAddress? from = null, bool implicitTls = false)
    {
        var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        if (from is not null) client.Client.Bind(new IPEndPoint(from, 0));
        using var cts = new CancellationTokenSource(Timeout);
        await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
        var dialog = new TlsDialog(client);
        if (implicitTls) await dialog.HandshakeAsync();
        return dialog;
    }

    /// <summary>Connects and takes the session through 220, EHLO, STARTTLS and EHLO again: ready for AUTH.</summary>
    public static async Task<TlsDialog> ConnectWithStartTlsAsync(int port, IPAddress? from = null)
    {
        var dialog = await ConnectAsync(port, from);
        try
        {
            await dialog.ExpectAsync("220");
            await dialog.CommandAsync("EHLO client.test", "250");
            await dialog.StartTlsAsync();
            await dialog.CommandAsync("EHLO client.test", "250");
            return dialog;
        }
        catch
        {
            await dialog.DisposeAsync();
            throw;
        }
    }

    public async Task SendAsync(string text)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(Encoding.Latin1.GetBytes(text), cts.Token);
        await _stream.FlushAsync(cts.Token);
    }

    public async Task<SmtpResponse> CommandAsync(string line, string expected)
    {
        await SendAsync(line + "\r\n");
        return await ExpectAsync(expected);
    }

    public async Task<SmtpResponse> ExpectAsync(string prefix)
    {
        var reply = await ReadReplyAsync() ?? throw new IOException($"connection closed while expecting '{prefix}'");
        Assert.True(reply.Lines[^1].StartsWith(prefix, StringComparison.Ordinal), $"expected '{prefix}', got:\n{reply}");
        return reply;
    }

    /// <summary>STARTTLS, 220, then the client side of the handshake.</summary>
    public async Task StartTlsAsync()
    {
        await CommandAsync("STARTTLS", "220");
        await HandshakeAsync();
    }

    /// <summary>One reply, or null when the server closed the connection first.</summary>
    public async Task<SmtpResponse?> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null) return lines.Count == 0 ? null : throw new IOException("closed in the middle of a reply");
            lines.Add(line);
            if (line.Length < 4 || line[3] == ' ') return new SmtpResponse(int.Parse(line[..3]), lines);
        }
    }

    /// <summary>Everything the server sends until it closes the connection.</summary>
    public async Task<string> ReadToCloseAsync()
    {
        var text = new StringBuilder();
        while (await ReadLineAsync() is { } line) text.Append(line).Append('\n');
        return text.ToString();
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task HandshakeAsync()
    {
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            // Any certificate is taken (tests inspect it afterwards), but there must be one.
            ServerCertificate = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return certificate is not null;
        });
        using var cts = new CancellationTokenSource(Timeout);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "mx.router.test" }, cts.Token);
        _stream = tls;
    }

    /// <summary>One line without CRLF, or null once the server is gone; a last line without CRLF is dropped.</summary>
    private Task<string?> ReadLineAsync() => _lines.ReadLineAsync(_stream, Timeout);
}
