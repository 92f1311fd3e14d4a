using System.Text;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// What a server sends in a raw dialog, cut into lines: each line as Latin-1 without its CRLF (a bare LF ends a
/// line too), or null once the peer is gone (end of stream, or an IOException: a reset or a broken TLS session).
/// The stream is passed on each read, so a dialog can switch it to TLS between lines.
/// </summary>
/// <param name="keepUnterminatedLastLine">
/// At the end of the stream, return the bytes after the last LF as one more line (true) or drop them (false).
/// </param>
internal sealed class LineReader(bool keepUnterminatedLastLine)
{
    private readonly List<byte> _pending = [];

    /// <summary>One line, or null when the peer is gone; a TimeoutException (naming <paramref name="context"/>) after <paramref name="timeout"/>.</summary>
    public async Task<string?> ReadLineAsync(Stream stream, TimeSpan timeout, Func<string>? context = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        while (true)
        {
            var lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var end = lf > 0 && _pending[lf - 1] == (byte)'\r' ? lf - 1 : lf;
                var line = Encoding.Latin1.GetString(_pending.GetRange(0, end).ToArray());
                _pending.RemoveRange(0, lf + 1);
                return line;
            }
            int n;
            try
            {
                n = await stream.ReadAsync(buffer, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no reply within {timeout.TotalSeconds:0.#}s{(context is null ? "" : "; " + context())}");
            }
            catch (IOException)
            {
                n = 0;
            }
            if (n == 0)
            {
                if (!keepUnterminatedLastLine || _pending.Count == 0) return null;
                var rest = Encoding.Latin1.GetString(_pending.ToArray());
                _pending.Clear();
                return rest;
            }
            _pending.AddRange(buffer.AsSpan(0, n));
        }
    }
}
