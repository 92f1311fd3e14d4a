using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>
/// The byte side of one SMTP connection: a socket read through System.IO.Pipelines, with replies
/// buffered and flushed when the client has no further complete command waiting (RFC 2920
/// s3.1), so a pipelined group gets its replies in one write, or when they reach
/// <see cref="MaxUnflushed"/>. Every write has a deadline: the session's idle timeout while it
/// lasts, then <see cref="MaxCloseTimeout"/> for the last replies, after which the socket is closed
/// whether they left or not (Postfix's smtpd writes with a timeout, then closes). Owned by one
/// session actor, which runs at most one read at a time, so nothing here needs a lock.
/// </summary>
internal sealed class SmtpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private Stream _stream;
    private PipeReader _reader;
    private PipeWriter _writer;
    private readonly TimeSpan _closeTimeout;

    /// <summary>
    /// Replies held for a pipelined group are sent once they reach this many octets, even while
    /// more commands wait: a client that pipelines without reading would otherwise grow the buffer
    /// with every command (RFC 2920 s3.1 lets a server buffer its replies, not without bound).
    /// With <see cref="MaxLinesPerBatch"/>, a session holds at most a few tens of KB of them.
    /// </summary>
    public const int MaxUnflushed = 16 * 1024;

    /// <summary>Command lines taken in one go, so one batch adds at most this many replies to the buffer.</summary>
    public const int MaxLinesPerBatch = 64;

    /// <summary>
    /// The longest the last replies (a 221, a 421) may take to leave when the session ends, and
    /// never longer than the idle timeout: a client that reads has them at once; one whose receive
    /// window stays shut would otherwise hold the write, the socket and its descriptor for ever.
    /// </summary>
    public static readonly TimeSpan MaxCloseTimeout = TimeSpan.FromSeconds(10);

    /// <param name="idleTimeout">The session's idle timeout, which also bounds the last write (see <see cref="MaxCloseTimeout"/>).</param>
    public SmtpConnection(Socket socket, TimeSpan idleTimeout)
    {
        _socket = socket;
        _closeTimeout = idleTimeout < MaxCloseTimeout ? idleTimeout : MaxCloseTimeout;
        _socket.NoDelay = true;
        _stream = new NetworkStream(socket, ownsSocket: true);
        (_reader, _writer) = Open(_stream);
        RemoteAddress = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        LocalEndPoint = socket.LocalEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
    }

    public IPAddress RemoteAddress { get; }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Queues a reply; it leaves with the next flush.</summary>
    public void Write(SmtpReply reply) => _writer.Write(reply.Bytes.Span);

    public ValueTask<FlushResult> FlushAsync(CancellationToken ct) => _writer.FlushAsync(ct);

    /// <summary>
    /// Reads complete command lines that are already waiting (at most <see cref="MaxLinesPerBatch"/>),
    /// or waits for at least one. Flushes take <paramref name="ct"/>, the idle timeout, as reads do,
    /// so a client that does not read its replies is timed out like one that does not write. Stops after
    /// a command that changes how the following bytes are read (DATA, BDAT, STARTTLS, AUTH, QUIT),
    /// so message bytes are never taken as commands. A line longer than <paramref name="maxLine"/>
    /// octets (CRLF included) is read to its end and dropped, and reported as <see cref="CommandLine.TooLong"/>.
    /// </summary>
    public async Task<CommandBatch> ReadCommandsAsync(int maxLine, CancellationToken ct)
    {
        // Replies pile up while commands keep coming: send them before reading more commands.
        if (_writer.UnflushedBytes >= MaxUnflushed) await _writer.FlushAsync(ct).ConfigureAwait(false);
        if (!_reader.TryRead(out var result))
        {
            // Nothing is waiting: now is the time to send the replies we hold.
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            result = await _reader.ReadAsync(ct).ConfigureAwait(false);
        }
        while (true)
        {
            var buffer = result.Buffer;
            var batch = TakeLines(ref buffer, maxLine);
            if (batch.Count > 0)
            {
                // Examined only up to what we took: bytes already here after DATA or BDAT (a
                // pipelined body, a chunk) must be returned by the next read without waiting for more.
                _reader.AdvanceTo(buffer.Start);
                return new CommandBatch(batch, Closed: false);
            }
            if (buffer.Length > maxLine)
            {
                // A line over the limit with no end yet: drop what we have and keep dropping
                // until its LF, then answer once (TakeLines reports it).
                _discarding = true;
                _reader.AdvanceTo(buffer.End);
            }
            else if (result.IsCompleted)
            {
                _reader.AdvanceTo(buffer.End);
                return new CommandBatch([], Closed: true);
            }
            else
            {
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            result = await _reader.ReadAsync(ct).ConfigureAwait(false);
        }
    }

    private bool _discarding;

    private List<CommandLine> TakeLines(ref ReadOnlySequence<byte> buffer, int maxLine)
    {
        var lines = new List<CommandLine>(4);
        while (lines.Count < MaxLinesPerBatch)
        {
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is null) break;
            var raw = buffer.Slice(0, lf.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
            if (_discarding)
            {
                _discarding = false;
                lines.Add(CommandLine.TooLong);
                continue;
            }
            if (raw.Length + 1 > maxLine)
            {
                lines.Add(CommandLine.TooLong);
                continue;
            }
            var bytes = raw.ToArray();
            // RFC 5321 s2.3.8: commands end with CRLF; a bare LF is refused, never taken as one.
            var crlf = bytes.Length > 0 && bytes[^1] == (byte)'\r';
            var line = new CommandLine(crlf ? bytes.AsMemory(0, bytes.Length - 1) : bytes, crlf, false);
            lines.Add(line);
            var verb = CommandParser.ParseVerb(line.Bytes.Span, out _);
            if (verb is SmtpVerb.Data or SmtpVerb.Bdat or SmtpVerb.StartTls or SmtpVerb.Auth or SmtpVerb.Quit) break;
        }
        return lines;
    }

    /// <summary>
    /// Reads a DATA body up to and including CRLF.CRLF (or until the client goes away).
    /// <paramref name="received"/> runs after each receive, so the caller's idle timeout limits the
    /// time between receives (RFC 5321 s4.5.3.2.5-6), not the whole transfer.
    /// </summary>
    public async Task<bool> ReadDataAsync(DataReader data, BodyBuffer body, Action received, CancellationToken ct)
    {
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        while (true)
        {
            var result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            received();
            var buffer = result.Buffer;
            long consumed = 0;
            foreach (var segment in buffer)
            {
                var n = data.Read(segment.Span, body);
                consumed += n;
                if (data.IsComplete) break;
            }
            _reader.AdvanceTo(buffer.GetPosition(consumed));
            if (data.IsComplete) return true;
            if (result.IsCompleted) return false;
        }
    }

    /// <summary>Reads exactly <paramref name="size"/> octets of a BDAT chunk into the reader; <paramref name="received"/> as for DATA.</summary>
    public async Task<bool> ReadChunkAsync(long size, DataReader data, BodyBuffer body, Action received, CancellationToken ct)
    {
        var remaining = size;
        while (remaining > 0)
        {
            var result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            received();
            var buffer = result.Buffer;
            var take = buffer.Slice(0, Math.Min(remaining, buffer.Length));
            foreach (var segment in take) data.Read(segment.Span, body);
            remaining -= take.Length;
            _reader.AdvanceTo(take.End);
            if (remaining > 0 && result.IsCompleted) return false;
        }
        return true;
    }

    /// <summary>True when the client already sent bytes we have not read (used after STARTTLS).</summary>
    public bool HasBufferedInput()
    {
        if (_reader.TryRead(out var result))
        {
            var any = !result.Buffer.IsEmpty;
            _reader.AdvanceTo(result.Buffer.Start);
            if (any) return true;
        }
        // Bytes that reached the socket but not yet the pipe count too.
        return _socket.Available > 0;
    }

    /// <summary>Replaces the plain stream by a TLS stream over the same socket (RFC 3207); <paramref name="ct"/> bounds the 220 and the handshake.</summary>
    public async Task UpgradeAsync(Func<Stream, Task<Stream>> handshake, CancellationToken ct)
    {
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _writer.CompleteAsync().ConfigureAwait(false);
        _stream = await handshake(_stream).ConfigureAwait(false);
        (_reader, _writer) = Open(_stream);
    }

    /// <summary>
    /// Sends what is still held and closes, within <see cref="_closeTimeout"/>. When the replies
    /// could not all be handed to the kernel in that time (the client does not read), the close is
    /// abortive (RST): the kernel drops what it still holds for the client, instead of keeping the
    /// buffers of a socket nobody owns.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var sent = false;
        using (var timeout = new CancellationTokenSource(_closeTimeout))
        {
            try
            {
                sent = !(await _writer.FlushAsync(timeout.Token).ConfigureAwait(false)).IsCanceled;
            }
            catch (Exception)
            {
                // Timed out, or the client is already gone: closing is all that is left to do.
            }
        }
        try
        {
            if (sent) _socket.Shutdown(SocketShutdown.Both);
            else _socket.LingerState = new LingerOption(enable: true, seconds: 0);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private static (PipeReader, PipeWriter) Open(Stream stream) => (
        PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true)),
        PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)));
}

/// <summary>One command line without its line ending. <c>Crlf</c> is false when it ended in a bare LF.</summary>
internal sealed record CommandLine(ReadOnlyMemory<byte> Bytes, bool Crlf, bool IsTooLong)
{
    public static readonly CommandLine TooLong = new(ReadOnlyMemory<byte>.Empty, true, true);
}

/// <summary>The lines read in one go; <c>Closed</c> when the client closed the connection.</summary>
internal sealed record CommandBatch(IReadOnlyList<CommandLine> Lines, bool Closed);
