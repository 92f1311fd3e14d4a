using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Router.Protocol;

namespace Router.LoadTest.Sink;

/// <summary>
/// One inbound connection of the sink: a minimal RFC 5321 server that supports PIPELINING
/// (RFC 2920: replies are batched and written only when no further command is buffered),
/// 8BITMIME, SMTPUTF8, SIZE and ENHANCEDSTATUSCODES. It counts; it does not deliver.
/// States: no transaction -> MAIL -> RCPT... -> DATA -> back; RSET/EHLO drop the transaction.
/// </summary>
internal sealed class SinkSession
{
    private const int MaxLineLength = 4096;

    private static readonly byte[] Ok = "250 2.0.0 Ok\r\n"u8.ToArray();
    private static readonly byte[] MailOk = "250 2.1.0 Sender ok\r\n"u8.ToArray();
    private static readonly byte[] RcptOk = "250 2.1.5 Recipient ok\r\n"u8.ToArray();
    private static readonly byte[] GoAhead = "354 End data with <CR><LF>.<CR><LF>\r\n"u8.ToArray();
    private static readonly byte[] Bye = "221 2.0.0 Bye\r\n"u8.ToArray();
    private static readonly byte[] NestedMail = "503 5.5.1 Nested MAIL command\r\n"u8.ToArray();
    private static readonly byte[] NeedMail = "503 5.5.1 Need MAIL first\r\n"u8.ToArray();
    private static readonly byte[] NoRecipients = "554 5.5.1 No valid recipients\r\n"u8.ToArray();
    private static readonly byte[] Syntax = "501 5.5.4 Syntax error in parameters\r\n"u8.ToArray();
    private static readonly byte[] Unknown = "502 5.5.1 Command not implemented\r\n"u8.ToArray();
    private static readonly byte[] TooLong = "500 5.5.2 Line too long\r\n"u8.ToArray();
    private static readonly byte[] TooBig = "552 5.3.4 Message too big\r\n"u8.ToArray();
    private static readonly byte[] TempFail = "451 4.3.0 Temporary failure (sink)\r\n"u8.ToArray();
    private static readonly byte[] PermFail = "550 5.1.1 Mailbox unavailable (sink)\r\n"u8.ToArray();

    private readonly SmtpSink _sink;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly ArrayBufferWriter<byte> _out = new(1024);
    private readonly BodyBuffer _message = new(64 * 1024);
    private DataReader _data = NewDataReader();
    private readonly byte[] _ehlo;

    private bool _inMail;
    private bool _inData;
    private bool _tooBig;
    private int _acceptedRecipients;
    private string _reversePath = "";
    private readonly List<string> _recipients = [];

    public SinkSession(SmtpSink sink, Socket socket)
    {
        _sink = sink;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4096));
        var o = sink.Options;
        _ehlo = Encoding.ASCII.GetBytes(
            $"250-{o.HostName}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE {o.MaxMessageSize}\r\n250 ENHANCEDSTATUSCODES\r\n");
    }

    private enum Step
    {
        NeedMore,
        MessageDone,
        Close,
    }

    /// <summary>Serves the session; one beyond <see cref="SinkOptions.MaxConnections"/> (<paramref name="turnAway"/>) is greeted with 421 and closed.</summary>
    public async Task RunAsync(bool turnAway, CancellationToken ct)
    {
        try
        {
            if (turnAway)
            {
                _out.Write(Encoding.ASCII.GetBytes($"421 4.7.0 {_sink.Options.HostName} Too many connections, try again later\r\n"));
                await FlushAsync(ct);
                return;
            }
            _out.Write(Encoding.ASCII.GetBytes($"220 {_sink.Options.HostName} ESMTP loadtest sink\r\n"));
            await FlushAsync(ct);
            while (true)
            {
                var result = await _reader.ReadAsync(ct);
                var buffer = result.Buffer;
                Step step;
                while ((step = Process(ref buffer)) == Step.MessageDone)
                {
                    await CompleteMessageAsync(ct);
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                await FlushAsync(ct);
                if (step == Step.Close || result.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A client that hangs up, or the sink stopping, ends the session.
        }
        finally
        {
            await _reader.CompleteAsync();
            _socket.Dispose();
            _message.Dispose();
        }
    }

    /// <summary>
    /// DATA as the sink reads it (RFC 5321 s4.1.1.4, s4.5.2): it ends only at CRLF "." CRLF, never at a bare
    /// LF or CR (so "\n.\n" cannot smuggle a second message), leading dots are unstuffed, and every other byte
    /// is kept as sent: the sink counts what it is given. Its size limit is the session's own.
    /// </summary>
    internal static DataReader NewDataReader() => new(long.MaxValue, dotTransparency: true, BareLineEndings.Keep);

    /// <summary>Handles every complete command (and DATA content) in the buffer, appending replies.</summary>
    private Step Process(ref ReadOnlySequence<byte> buffer)
    {
        Span<byte> scratch = stackalloc byte[MaxLineLength];
        while (true)
        {
            if (_inData)
            {
                var consumed = 0L;
                foreach (var segment in buffer)
                {
                    consumed += _data.Read(segment.Span, _message);
                    if (_data.IsComplete) break;
                }
                if (_message.Length > _sink.Options.MaxMessageSize)
                {
                    _tooBig = true;
                    Interlocked.Add(ref _sink.Counters.Bytes, _message.Length);
                    _message.Clear();
                }
                buffer = buffer.Slice(consumed);
                if (!_data.IsComplete) return Step.NeedMore;
                _inData = false;
                return Step.MessageDone;
            }

            var lf = buffer.PositionOf((byte)'\n');
            if (lf is null)
            {
                if (buffer.Length <= MaxLineLength) return Step.NeedMore;
                _out.Write(TooLong);
                return Step.Close;
            }
            var raw = buffer.Slice(0, lf.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
            if (raw.Length > MaxLineLength)
            {
                _out.Write(TooLong);
                return Step.Close;
            }
            var line = raw.IsSingleSegment ? raw.FirstSpan : scratch[..(int)raw.Length];
            if (!raw.IsSingleSegment) raw.CopyTo(scratch);
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            if (!Command(line)) return Step.Close;
        }
    }

    /// <summary>One command line (without CRLF); returns false when the session ends.</summary>
    private bool Command(ReadOnlySpan<byte> line)
    {
        var verb = line.Length >= 4 ? line[..4] : line;
        if (Is(verb, "EHLO"u8))
        {
            ResetTransaction();
            _out.Write(_ehlo);
        }
        else if (Is(verb, "HELO"u8))
        {
            ResetTransaction();
            _out.Write(Encoding.ASCII.GetBytes($"250 {_sink.Options.HostName}\r\n"));
        }
        else if (Is(verb, "MAIL"u8)) Mail(line);
        else if (Is(verb, "RCPT"u8)) Rcpt(line);
        else if (Is(verb, "DATA"u8))
        {
            if (!_inMail) _out.Write(NeedMail);
            else if (_acceptedRecipients == 0) _out.Write(NoRecipients);
            else
            {
                _inData = true;
                _tooBig = false;
                _message.Clear();
                _data = NewDataReader();
                _out.Write(GoAhead);
            }
        }
        else if (Is(verb, "RSET"u8))
        {
            ResetTransaction();
            _out.Write(Ok);
        }
        else if (Is(verb, "NOOP"u8)) _out.Write(Ok);
        else if (Is(verb, "QUIT"u8))
        {
            _out.Write(Bye);
            return false;
        }
        else _out.Write(Unknown);
        return true;
    }

    private void Mail(ReadOnlySpan<byte> line)
    {
        if (_inMail)
        {
            _out.Write(NestedMail);
            return;
        }
        if (!TryPath(line, "MAIL FROM:"u8, out var path, out var parameters))
        {
            _out.Write(Syntax);
            return;
        }
        if (TryParseSize(parameters, out var size) && size > _sink.Options.MaxMessageSize)
        {
            _out.Write(TooBig);
            return;
        }
        _inMail = true;
        _reversePath = _sink.Options.CaptureMessages ? Encoding.UTF8.GetString(path) : "";
        Interlocked.Increment(ref _sink.Counters.Transactions);
        _out.Write(MailOk);
    }

    private void Rcpt(ReadOnlySpan<byte> line)
    {
        if (!_inMail)
        {
            _out.Write(NeedMail);
            return;
        }
        if (!TryPath(line, "RCPT TO:"u8, out var path, out _))
        {
            _out.Write(Syntax);
            return;
        }
        var options = _sink.Options;
        string? address = options.Rules.Count > 0 || options.CaptureMessages ? Encoding.UTF8.GetString(path) : null;
        var code = _sink.Decide(address);
        var counters = _sink.Counters;
        if (code < 300)
        {
            _acceptedRecipients++;
            if (options.CaptureMessages) _recipients.Add(address!);
            Interlocked.Increment(ref counters.RecipientsAccepted);
            _out.Write(RcptOk);
        }
        else
        {
            Interlocked.Increment(ref code < 500 ? ref counters.RecipientsTempFailed : ref counters.RecipientsPermFailed);
            if (code == 451) _out.Write(TempFail);
            else if (code == 550) _out.Write(PermFail);
            else _out.Write(Encoding.ASCII.GetBytes($"{code} {code / 100}.0.0 Rejected by rule (sink)\r\n"));
        }
        counters.Signal();
    }

    private async Task CompleteMessageAsync(CancellationToken ct)
    {
        var counters = _sink.Counters;
        Interlocked.Add(ref counters.Bytes, _message.Length);
        if (_tooBig)
        {
            Interlocked.Increment(ref counters.MessagesRejected);
            _out.Write(TooBig);
        }
        else
        {
            var sentAt = SentAt(_message.Span);
            if (sentAt is { } ms)
                counters.Latency.Record((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ms) * 1000);
            if (_sink.Options.CaptureMessages)
                _sink.Capture(new SinkMessage(_reversePath, [.. _recipients], _message.Span.ToArray()));
            if (_sink.Options.Maildir is { } maildir) await MaildirWriter.WriteAsync(maildir, _message.Memory, ct);
            if (_sink.Options.DataReplyDelay > TimeSpan.Zero)
            {
                SinkCounters.RaisePeak(ref counters.PeakMessagesInFlight, Interlocked.Increment(ref counters.MessagesInFlight));
                try
                {
                    await Task.Delay(_sink.Options.DataReplyDelay, ct);
                }
                finally
                {
                    Interlocked.Decrement(ref counters.MessagesInFlight);
                }
            }
            var id = Interlocked.Increment(ref counters.Messages);
            Interlocked.Add(ref counters.RecipientsDelivered, _acceptedRecipients);
            _out.Write(Encoding.ASCII.GetBytes($"250 2.0.0 Ok: queued as S{id}\r\n"));
        }
        ResetTransaction();
        counters.Signal();
    }

    private void ResetTransaction()
    {
        _inMail = false;
        _acceptedRecipients = 0;
        _recipients.Clear();
        _reversePath = "";
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_out.WrittenCount == 0) return;
        await _stream.WriteAsync(_out.WrittenMemory, ct);
        _out.ResetWrittenCount();
    }

    /// <summary>"MAIL FROM:&lt;path&gt; params": the path between the brackets and what follows.</summary>
    private static bool TryPath(ReadOnlySpan<byte> line, ReadOnlySpan<byte> prefix, out ReadOnlySpan<byte> path, out ReadOnlySpan<byte> rest)
    {
        path = rest = default;
        if (line.Length < prefix.Length || !Ascii.EqualsIgnoreCase(line[..prefix.Length], prefix)) return false;
        var s = line[prefix.Length..].TrimStart((byte)' ');
        if (s.Length == 0 || s[0] != (byte)'<') return false;
        var close = s.IndexOf((byte)'>');
        if (close < 0) return false;
        path = s[1..close];
        rest = s[(close + 1)..];
        return true;
    }

    private static bool TryParseSize(ReadOnlySpan<byte> parameters, out long size)
    {
        size = 0;
        foreach (var range in parameters.Split((byte)' '))
        {
            var p = parameters[range];
            if (p.Length > 5 && Ascii.EqualsIgnoreCase(p[..5], "SIZE="u8))
                return long.TryParse(Encoding.ASCII.GetString(p[5..]), NumberStyles.None, CultureInfo.InvariantCulture, out size);
        }
        return false;
    }

    /// <summary>The X-Loadtest-Sent header (unix milliseconds) from the header section, if present, unfolded (RFC 5322 s2.2.3).</summary>
    internal static long? SentAt(ReadOnlySpan<byte> message)
    {
        var name = "X-Loadtest-Sent:"u8;
        var headers = message[..Math.Min(message.Length, 64 * 1024)];
        string? value = null;
        while (headers.Length > 0)
        {
            var eol = headers.IndexOf((byte)'\n');
            var line = eol < 0 ? headers : headers[..eol];
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            if (value is not null)
            {
                // The field goes on over the lines that start with a space or a tab.
                if (line.Length == 0 || line[0] is not ((byte)' ' or (byte)'\t')) break;
                value += Encoding.ASCII.GetString(line);
            }
            else if (line.Length == 0) return null;
            else if (line.Length >= name.Length && Ascii.EqualsIgnoreCase(line[..name.Length], name))
                value = Encoding.ASCII.GetString(line[name.Length..]);
            if (eol < 0) break;
            headers = headers[(eol + 1)..];
        }
        return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) ? ms : null;
    }

    private static bool Is(ReadOnlySpan<byte> verb, ReadOnlySpan<byte> expected) => verb.Length == 4 && Ascii.EqualsIgnoreCase(verb, expected);
}
