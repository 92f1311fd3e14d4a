using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace Router.Protocol.Client;

/// <summary>
/// One outbound SMTP session (RFC 5321 s3, s4): greeting, EHLO/HELO, STARTTLS (RFC 3207), AUTH
/// (RFC 4954), then any number of mail transactions, pipelined when the peer allows (RFC 2920).
/// Refusals are reply values; I/O failures, timeouts and broken replies throw
/// <see cref="SmtpClientException"/> and leave the connection unusable. Not thread-safe: one
/// operation at a time.
/// </summary>
public sealed class SmtpClientConnection : IAsyncDisposable
{
    private const int BodyChunk = 32 * 1024;

    private readonly SmtpClientOptions _options;
    private readonly NetworkStream _network;
    private readonly ArrayBufferWriter<byte> _commands = new(256);
    private Stream _stream;
    private PipeReader _reader;
    private bool _usable = true;
    private bool _disposed;
    private int _busy;

    private SmtpClientConnection(Socket socket, IPEndPoint remote, SmtpClientOptions options)
    {
        _options = options;
        RemoteEndPoint = remote;
        _network = new NetworkStream(socket, ownsSocket: true);
        _stream = _network;
        _reader = CreateReader(_network);
    }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The peer's 220 greeting.</summary>
    public SmtpReply Greeting { get; private set; } = null!;

    /// <summary>What the last EHLO announced; <see cref="SmtpCapabilities.None"/> before EHLO or after a HELO fallback.</summary>
    public SmtpCapabilities Capabilities { get; private set; } = SmtpCapabilities.None;

    /// <summary>True when the last <see cref="EhloAsync"/> fell back to HELO: the reply it returned is HELO's, not EHLO's.</summary>
    public bool SaidHelo { get; private set; }

    /// <summary>False after an I/O error, a timeout, a malformed reply, a 421, QUIT or disposal: a pool retires it.</summary>
    public bool IsUsable => _usable && !_disposed;

    /// <summary>Mail transactions started on this connection (those that reached the wire).</summary>
    public int TransactionCount { get; private set; }

    public bool IsEncrypted => _stream is SslStream;

    /// <summary>The user a 235 reply to AUTH (RFC 4954 s4) authenticated on this connection; null before, or after a failed AUTH.</summary>
    public string? AuthenticatedUser { get; private set; }

    /// <summary>The negotiated TLS version after STARTTLS, else null.</summary>
    public SslProtocols? TlsProtocol => (_stream as SslStream)?.SslProtocol;

    /// <summary>Connects, then waits for the 220 greeting (RFC 5321 s3.1, s4.5.3.2.1).</summary>
    /// <exception cref="SmtpClientException">ConnectFailed, GreetingRejected (with the reply), Timeout, ConnectionClosed or MalformedReply.</exception>
    public static async Task<SmtpClientConnection> ConnectAsync(IPEndPoint endPoint, SmtpClientOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(options);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (options.LocalEndPoint is { } local) socket.Bind(local);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(options.ConnectTimeout);
            await socket.ConnectAsync(endPoint, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw new SmtpClientException(SmtpClientErrorKind.ConnectFailed, $"connect to {endPoint} timed out after {options.ConnectTimeout}");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SmtpClientException(SmtpClientErrorKind.ConnectFailed, $"connect to {endPoint} failed: {e.SocketErrorCode}", inner: e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var connection = new SmtpClientConnection(socket, endPoint, options);
        try
        {
            var greeting = await connection.ReadReplyAsync(options.GreetingTimeout, "the greeting", ct);
            connection.Greeting = greeting;
            if (greeting.Code != 220)
            {
                connection._usable = false;
                throw new SmtpClientException(SmtpClientErrorKind.GreetingRejected, $"{endPoint} greeted with {greeting}", greeting);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Resolves <paramref name="host"/> and connects to its addresses in turn until one greets.</summary>
    public static async Task<SmtpClientConnection> ConnectAsync(string host, int port, SmtpClientOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        }
        catch (SocketException e)
        {
            throw new SmtpClientException(SmtpClientErrorKind.ConnectFailed, $"cannot resolve {host}: {e.SocketErrorCode}", inner: e);
        }
        if (options.LocalEndPoint is { } local) addresses = [.. addresses.Where(a => a.AddressFamily == local.AddressFamily)];
        if (addresses.Length == 0) throw new SmtpClientException(SmtpClientErrorKind.ConnectFailed, $"{host} has no usable address");
        SmtpClientException? last = null;
        foreach (var address in addresses)
        {
            try
            {
                return await ConnectAsync(new IPEndPoint(address, port), options, ct);
            }
            catch (SmtpClientException e)
            {
                last = e;
            }
        }
        throw last!;
    }

    /// <summary>
    /// Sends EHLO and records the capabilities; on a 5xx falls back to HELO (RFC 5321 s4.1.4)
    /// with no capabilities. Returns the reply that ended the exchange (EHLO's or HELO's).
    /// </summary>
    public async Task<SmtpReply> EhloAsync(CancellationToken ct)
    {
        using var _ = Enter();
        Capabilities = SmtpCapabilities.None;
        SaidHelo = false;
        var reply = await EhloCoreAsync(ct);
        if (!reply.IsPermanent) return reply;
        SaidHelo = true;
        reply = await CommandAsync("HELO ", _options.LocalHostName, _options.CommandTimeout, "HELO", ct);
        ExpectNotIntermediate(reply, "HELO");
        return reply;
    }

    /// <summary>
    /// STARTTLS (RFC 3207) with TLS 1.2 or 1.3, then EHLO again as s4.2 requires. Returns the
    /// refusal when the peer does not say 220, else the new EHLO's reply. A null callback means
    /// the system's certificate validation.
    /// </summary>
    public async Task<SmtpReply> StartTlsAsync(string targetHost, RemoteCertificateValidationCallback? validate, CancellationToken ct)
    {
        using var _ = Enter();
        if (IsEncrypted) throw new InvalidOperationException("TLS is already active on this connection.");
        var reply = await CommandAsync("STARTTLS", null, _options.CommandTimeout, "STARTTLS", ct);
        if (reply.Code != 220) return reply;

        // Anything already received was sent before the handshake and must not be trusted (RFC 3207 s5, CVE-2011-0411).
        if (_reader.TryRead(out var early))
        {
            var injected = !early.Buffer.IsEmpty;
            _reader.AdvanceTo(early.Buffer.End);
            if (injected) throw Fail(SmtpClientErrorKind.ProtocolViolation, $"{RemoteEndPoint} sent data before the TLS handshake");
        }
        await _reader.CompleteAsync();
        var ssl = new SslStream(_network, leaveInnerStreamOpen: true);
        _stream = ssl;
        _reader = CreateReader(ssl);
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            RemoteCertificateValidationCallback = validate,
        };
        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            cts.CancelAfter(_options.CommandTimeout);
            try
            {
                await ssl.AuthenticateAsClientAsync(tls, cts.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw Fail(SmtpClientErrorKind.Timeout, $"TLS handshake with {RemoteEndPoint} timed out after {_options.CommandTimeout}");
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                throw Fail(SmtpClientErrorKind.TlsFailed, $"TLS handshake with {RemoteEndPoint} failed: {e.Message}", e);
            }
            catch (OperationCanceledException)
            {
                _usable = false;
                throw;
            }
        }
        // RFC 3207 s4.2: what was known before the handshake (an AUTH included) no longer holds.
        Capabilities = SmtpCapabilities.None;
        AuthenticatedUser = null;
        return await EhloCoreAsync(ct);
    }

    /// <summary>
    /// AUTH with PLAIN (initial response, RFC 4616) or LOGIN; returns the final reply (235 on
    /// success, which sets <see cref="AuthenticatedUser"/>). The password goes only into the
    /// exchange: no exception or reply this method makes carries it.
    /// </summary>
    public async Task<SmtpReply> AuthenticateAsync(string user, string password, SmtpAuthMechanism mechanism, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(password);
        using var _ = Enter();
        try
        {
            var reply = await AuthenticateCoreAsync(user, password, mechanism, ct);
            AuthenticatedUser = reply.Code == 235 ? user : null;
            return reply;
        }
        finally
        {
            // The command buffer is reused: the encoded password does not stay in it.
            _commands.Clear();
        }
    }

    private async Task<SmtpReply> AuthenticateCoreAsync(string user, string password, SmtpAuthMechanism mechanism, CancellationToken ct)
    {
        var timeout = _options.CommandTimeout;
        if (mechanism == SmtpAuthMechanism.Plain)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0" + user + "\0" + password));
            return await CommandAsync("AUTH PLAIN ", token, timeout, "AUTH PLAIN", ct);
        }
        var reply = await CommandAsync("AUTH LOGIN", null, timeout, "AUTH LOGIN", ct);
        if (reply.Code != 334) return reply;
        reply = await CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(user)), null, timeout, "AUTH LOGIN user name", ct);
        if (reply.Code != 334) return reply;
        return await CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(password)), null, timeout, "AUTH LOGIN password", ct);
    }

    /// <summary>
    /// Runs one mail transaction. With PIPELINING, MAIL, every RCPT and DATA go in one write and
    /// the replies are read in order (RFC 2920 s3.1); otherwise one command at a time. DATA is
    /// only followed by the message when at least one RCPT was accepted; otherwise RSET.
    /// </summary>
    public async Task<TransactionResult> SendAsync(SmtpEnvelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        if (envelope.Recipients.Count == 0) throw new ArgumentException("An envelope needs at least one recipient.", nameof(envelope));
        CheckPath(envelope.ReversePath);
        foreach (var r in envelope.Recipients) CheckPath(r);
        using var _ = Enter();

        var utf8 = envelope.RequiresSmtpUtf8;
        if (utf8 && !Capabilities.SmtpUtf8)
        {
            return new TransactionResult(TransactionStatus.SmtpUtf8NotSupported, null, null, null,
                new SmtpReply(553, "5.6.7", $"{RemoteEndPoint} does not support SMTPUTF8, which this message needs"));
        }
        var size = envelope.Size ?? message.Length;
        if (Capabilities.MaxSize is { } limit && size > limit)
        {
            return new TransactionResult(TransactionStatus.MessageTooLarge, null, null, null,
                new SmtpReply(552, "5.3.4", $"Message size {size} exceeds the {limit} byte limit of {RemoteEndPoint}"));
        }

        TransactionCount++;
        _commands.ResetWrittenCount();
        AppendMail(envelope, size, utf8);
        return _options.UsePipelining && Capabilities.Pipelining
            ? await SendPipelinedAsync(envelope, message, ct)
            : await SendStepwiseAsync(envelope, message, ct);
    }

    /// <summary>RSET (RFC 5321 s4.1.1.5).</summary>
    public async Task<SmtpReply> ResetAsync(CancellationToken ct)
    {
        using var _ = Enter();
        return await ResetCoreAsync(ct);
    }

    /// <summary>NOOP (RFC 5321 s4.1.1.9): a cheap liveness check before reusing a pooled connection.</summary>
    public async Task<SmtpReply> NoopAsync(CancellationToken ct)
    {
        using var _ = Enter();
        return await CommandAsync("NOOP", null, _options.CommandTimeout, "NOOP", ct);
    }

    /// <summary>QUIT (RFC 5321 s4.1.1.10); the connection is unusable afterwards. Null when the peer hung up without a reply.</summary>
    public async Task<SmtpReply?> QuitAsync(CancellationToken ct)
    {
        if (!IsUsable) return null;
        using var _ = Enter();
        try
        {
            return await CommandAsync("QUIT", null, _options.CommandTimeout, "QUIT", ct);
        }
        catch (SmtpClientException)
        {
            return null;
        }
        finally
        {
            _usable = false;
        }
    }

    /// <summary>
    /// Says QUIT as a courtesy, waiting at most <paramref name="quitTimeout"/> for the reply, then
    /// closes: a slow or broken peer only costs the wait.
    /// </summary>
    public async Task CloseAsync(TimeSpan quitTimeout)
    {
        try
        {
            using var quit = new CancellationTokenSource(quitTimeout);
            await QuitAsync(quit.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _usable = false;
        await _reader.CompleteAsync();
        if (_stream is SslStream ssl) await ssl.DisposeAsync();
        await _network.DisposeAsync();
    }

    private async Task<TransactionResult> SendPipelinedAsync(SmtpEnvelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        for (var i = 0; i < envelope.Recipients.Count; i++) AppendLine("RCPT TO:<", envelope.Recipients[i], RcptTail(envelope, i));
        AppendLine("DATA", null, null);
        await WriteAsync(_commands.WrittenMemory, _options.MailTimeout, "MAIL", ct);

        // Replies come in command order; a 421 answers everything after it (RFC 5321 s3.8).
        var mail = await ReadReplyAsync(_options.MailTimeout, "MAIL", ct);
        var closing = mail.Code == 421 ? mail : null;
        var recipients = new SmtpReply[envelope.Recipients.Count];
        for (var i = 0; i < recipients.Length; i++)
        {
            recipients[i] = closing ?? await ReadReplyAsync(_options.RcptTimeout, "RCPT", ct);
            if (recipients[i].Code == 421) closing = recipients[i];
        }
        var data = closing ?? await ReadReplyAsync(_options.DataInitTimeout, "DATA", ct);
        ExpectNotIntermediate(mail, "MAIL");
        foreach (var r in recipients) ExpectNotIntermediate(r, "RCPT");

        var accepted = mail.IsPositive && recipients.Any(r => r.IsPositive);
        if (data.Code == 354)
        {
            if (accepted) return await SendBodyAsync(mail, recipients, message, ct);
            // A peer that said 354 with nobody to deliver to gets an empty message (RFC 2920 s3.1).
            await WriteAsync(".\r\n"u8.ToArray(), _options.DataBlockTimeout, "DATA", ct);
            await ReadReplyAsync(_options.DataTerminationTimeout, "end of DATA", ct);
            return new TransactionResult(mail.IsPositive ? TransactionStatus.NoRecipientAccepted : TransactionStatus.MailRejected, mail, recipients, null);
        }
        ExpectRefusal(data, "DATA");
        if (!mail.IsPositive) return new TransactionResult(TransactionStatus.MailRejected, mail, recipients, null);
        if (closing is not null) return new TransactionResult(TransactionStatus.ServiceClosing, mail, recipients, closing);
        await ResetCoreAsync(ct);
        return accepted
            ? new TransactionResult(TransactionStatus.Completed, mail, recipients, data)
            : new TransactionResult(TransactionStatus.NoRecipientAccepted, mail, recipients, null);
    }

    private async Task<TransactionResult> SendStepwiseAsync(SmtpEnvelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        await WriteAsync(_commands.WrittenMemory, _options.MailTimeout, "MAIL", ct);
        var mail = await ReadReplyAsync(_options.MailTimeout, "MAIL", ct);
        ExpectNotIntermediate(mail, "MAIL");
        if (!mail.IsPositive) return new TransactionResult(TransactionStatus.MailRejected, mail, null, null);

        var recipients = new SmtpReply[envelope.Recipients.Count];
        SmtpReply? closing = null;
        for (var i = 0; i < recipients.Length; i++)
        {
            if (closing is not null)
            {
                recipients[i] = closing;
                continue;
            }
            recipients[i] = await CommandAsync("RCPT TO:<", envelope.Recipients[i], RcptTail(envelope, i), _options.RcptTimeout, "RCPT", ct);
            ExpectNotIntermediate(recipients[i], "RCPT");
            if (recipients[i].Code == 421) closing = recipients[i];
        }
        if (closing is not null) return new TransactionResult(TransactionStatus.ServiceClosing, mail, recipients, closing);
        if (!recipients.Any(r => r.IsPositive))
        {
            await ResetCoreAsync(ct);
            return new TransactionResult(TransactionStatus.NoRecipientAccepted, mail, recipients, null);
        }

        var data = await CommandAsync("DATA", null, _options.DataInitTimeout, "DATA", ct);
        if (data.Code == 354) return await SendBodyAsync(mail, recipients, message, ct);
        ExpectRefusal(data, "DATA");
        if (data.Code == 421) return new TransactionResult(TransactionStatus.ServiceClosing, mail, recipients, data);
        await ResetCoreAsync(ct);
        return new TransactionResult(TransactionStatus.Completed, mail, recipients, data);
    }

    /// <summary>Streams the dot-stuffed, CRLF-normalised message in chunks, then waits for the final reply.</summary>
    private async Task<TransactionResult> SendBodyAsync(SmtpReply mail, SmtpReply[] recipients, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        var stuffer = new DotStuffer();
        var buffer = ArrayPool<byte>.Shared.Rent(DotStuffer.MaxEncodedLength(BodyChunk) + DotStuffer.MaxTrailerLength);
        try
        {
            var offset = 0;
            while (true)
            {
                var length = Math.Min(BodyChunk, message.Length - offset);
                var n = stuffer.Encode(message.Span.Slice(offset, length), buffer);
                offset += length;
                var last = offset == message.Length;
                if (last) n += stuffer.Complete(buffer.AsSpan(n));
                await WriteAsync(buffer.AsMemory(0, n), _options.DataBlockTimeout, "a DATA block", ct);
                if (last) break;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        var final = await ReadReplyAsync(_options.DataTerminationTimeout, "end of DATA", ct);
        ExpectNotIntermediate(final, "end of DATA");
        return new TransactionResult(final.Code == 421 ? TransactionStatus.ServiceClosing : TransactionStatus.Completed, mail, recipients, final);
    }

    private async Task<SmtpReply> EhloCoreAsync(CancellationToken ct)
    {
        var reply = await CommandAsync("EHLO ", _options.LocalHostName, _options.CommandTimeout, "EHLO", ct);
        ExpectNotIntermediate(reply, "EHLO");
        if (reply.IsPositive) Capabilities = SmtpCapabilities.Parse(reply);
        return reply;
    }

    private async Task<SmtpReply> ResetCoreAsync(CancellationToken ct)
    {
        var reply = await CommandAsync("RSET", null, _options.CommandTimeout, "RSET", ct);
        // A peer that cannot reset cannot be trusted with another transaction.
        if (!reply.IsPositive) _usable = false;
        return reply;
    }

    private Task<SmtpReply> CommandAsync(string verb, string? argument, TimeSpan timeout, string what, CancellationToken ct)
        => CommandAsync(verb, argument, null, timeout, what, ct);

    private async Task<SmtpReply> CommandAsync(string head, string? argument, string? tail, TimeSpan timeout, string what, CancellationToken ct)
    {
        _commands.ResetWrittenCount();
        AppendLine(head, argument, tail);
        await WriteAsync(_commands.WrittenMemory, timeout, what, ct);
        return await ReadReplyAsync(timeout, what, ct);
    }

    private void AppendMail(SmtpEnvelope envelope, long size, bool utf8)
    {
        Append("MAIL FROM:<");
        Append(envelope.ReversePath);
        Append(">");
        if (Capabilities.Size)
        {
            Append(" SIZE=");
            size.TryFormat(_commands.GetSpan(20), out var n, default, CultureInfo.InvariantCulture);
            _commands.Advance(n);
        }
        // Without 8BITMIME at the peer the caller sends a 7-bit form (RFC 6152 s3); declaring it would be refused.
        if (envelope.EightBitMime && Capabilities.EightBitMime) Append(" BODY=8BITMIME");
        if (utf8) Append(" SMTPUTF8");
        if (Capabilities.Dsn)
        {
            // RFC 3461 s5.2.1: a relay passes the DSN parameters on to a next hop that supports DSN,
            // RET as the client gave it (without one, the next hop's default: Postfix returns all).
            if (envelope.Return == DsnReturn.Full) Append(" RET=FULL");
            else if (envelope.Return == DsnReturn.Headers) Append(" RET=HDRS");
            if (envelope.EnvelopeId is { } envId) Append(" ENVID=" + envId);
        }
        Append("\r\n");
    }

    /// <summary>"&gt;" and, to a peer offering DSN, the recipient's NOTIFY and ORCPT (RFC 3461 s4.1, s4.2).</summary>
    private string RcptTail(SmtpEnvelope envelope, int index)
    {
        if (!Capabilities.Dsn || envelope.RecipientDsn is not { } all) return ">";
        var (notify, orcpt) = all[index];
        if (notify == DsnNotify.None && orcpt is null) return ">";
        var tail = new StringBuilder(">");
        if (notify != DsnNotify.None) tail.Append(" NOTIFY=").Append(NotifyValue(notify));
        // A UTF-8 ORCPT (RFC 6533) could only go with SMTPUTF8; it is left out rather than mangled.
        if (orcpt is not null && System.Text.Ascii.IsValid(orcpt)) tail.Append(" ORCPT=").Append(orcpt);
        return tail.ToString();
    }

    private static string NotifyValue(DsnNotify notify) => notify.HasFlag(DsnNotify.Never)
        ? "NEVER"
        : string.Join(',', new[] { (DsnNotify.Success, "SUCCESS"), (DsnNotify.Failure, "FAILURE"), (DsnNotify.Delay, "DELAY") }
            .Where(f => notify.HasFlag(f.Item1)).Select(f => f.Item2));

    private void AppendLine(string head, string? argument, string? tail)
    {
        Append(head);
        if (argument is not null) Append(argument);
        if (tail is not null) Append(tail);
        Append("\r\n");
    }

    private void Append(string s)
    {
        var span = _commands.GetSpan(Encoding.UTF8.GetMaxByteCount(s.Length));
        _commands.Advance(Encoding.UTF8.GetBytes(s, span));
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, TimeSpan timeout, string what, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _stream.WriteAsync(bytes, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Fail(SmtpClientErrorKind.Timeout, $"sending {what} to {RemoteEndPoint} timed out after {timeout}");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw Fail(SmtpClientErrorKind.ConnectionClosed, $"connection to {RemoteEndPoint} lost while sending {what}: {e.Message}", e);
        }
        catch (OperationCanceledException)
        {
            _usable = false;
            throw;
        }
    }

    private async ValueTask<SmtpReply> ReadReplyAsync(TimeSpan timeout, string what, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(cts.Token);
                var buffer = result.Buffer;
                var status = SmtpReplyParser.TryParse(ref buffer, _options.MaxReplyLineLength, _options.MaxReplyLines, out var reply, out var error);
                if (status == ReplyParseStatus.Complete)
                {
                    _reader.AdvanceTo(buffer.Start);
                    if (reply!.Code == 421) _usable = false;
                    return reply;
                }
                _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                if (status == ReplyParseStatus.Malformed)
                    throw Fail(SmtpClientErrorKind.MalformedReply, $"malformed reply to {what} from {RemoteEndPoint}: {error}");
                if (result.IsCompleted || result.IsCanceled)
                    throw Fail(SmtpClientErrorKind.ConnectionClosed, $"{RemoteEndPoint} closed the connection while we awaited the reply to {what}");
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Fail(SmtpClientErrorKind.Timeout, $"no reply to {what} from {RemoteEndPoint} within {timeout}");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw Fail(SmtpClientErrorKind.ConnectionClosed, $"connection to {RemoteEndPoint} lost while awaiting the reply to {what}: {e.Message}", e);
        }
        catch (OperationCanceledException)
        {
            _usable = false;
            throw;
        }
    }

    /// <summary>A 1xx or 3xx where only 2xx, 4xx or 5xx make sense means the dialogue is out of step.</summary>
    private void ExpectNotIntermediate(SmtpReply reply, string what)
    {
        if (reply.Code is >= 300 and < 400)
            throw Fail(SmtpClientErrorKind.ProtocolViolation, $"{RemoteEndPoint} answered {what} with {reply}", reply: reply);
    }

    /// <summary>
    /// DATA is answered with 354 or a refusal (RFC 5321 s4.3.2). A 2xx in its place would make a
    /// transaction whose content was never sent look delivered: that is a broken peer.
    /// </summary>
    private void ExpectRefusal(SmtpReply reply, string what)
    {
        if (reply.Code < 400)
            throw Fail(SmtpClientErrorKind.ProtocolViolation, $"{RemoteEndPoint} answered {what} with {reply}", reply: reply);
    }

    private SmtpClientException Fail(SmtpClientErrorKind kind, string message, Exception? inner = null, SmtpReply? reply = null)
    {
        _usable = false;
        return new SmtpClientException(kind, message, reply, inner);
    }

    private static void CheckPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        foreach (var c in path)
        {
            if (c < 0x20 || c == 0x7f || c == '<' || c == '>')
                throw new ArgumentException($"Path contains a character that cannot go in an SMTP command: {path}", nameof(path));
        }
    }

    private static PipeReader CreateReader(Stream stream)
        => PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true));

    private Busy Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) == 1)
            throw new InvalidOperationException("An SMTP connection runs one operation at a time.");
        if (!_usable)
        {
            _busy = 0;
            throw new SmtpClientException(SmtpClientErrorKind.NotUsable, $"the connection to {RemoteEndPoint} is no longer usable");
        }
        return new Busy(this);
    }

    /// <summary>Marks the connection idle again when an operation ends, however it ends.</summary>
    private readonly struct Busy(SmtpClientConnection owner) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref owner._busy, 0);
    }
}
