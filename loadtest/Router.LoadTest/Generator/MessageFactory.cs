using System.Globalization;
using System.Text;

namespace Router.LoadTest.Generator;

/// <summary>
/// Builds RFC 5322 test messages into a buffer reused per connection: Message-ID, Date, From,
/// To, Subject and X-Loadtest-Sent (unix ms, for the sink's end-to-end latency), then a body of
/// 76-character lines filled to the requested size.
/// </summary>
internal sealed class MessageFactory
{
    private static readonly byte[] LineText = Encoding.ASCII.GetBytes(
        "The quick brown fox jumps over the lazy dog. 0123456789 ABCDEFGHIJKLMNOPQRST");

    private readonly string _runId;
    private byte[] _buffer = new byte[8192];

    public MessageFactory(string runId) => _runId = runId;

    public ReadOnlyMemory<byte> Create(long sequence, string from, IReadOnlyList<string> to, int size)
    {
        var headers =
            $"Message-ID: <{sequence}.{_runId}@loadtest.test>\r\n" +
            $"Date: {DateTimeOffset.UtcNow.ToString("ddd, dd MMM yyyy HH:mm:ss +0000", CultureInfo.InvariantCulture)}\r\n" +
            $"From: <{from}>\r\n" +
            $"To: {string.Join(", ", to.Select(t => "<" + t + ">"))}\r\n" +
            $"Subject: loadtest message {sequence}\r\n" +
            $"X-Loadtest-Sent: {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\r\n" +
            "\r\n";
        var headerLength = Encoding.UTF8.GetByteCount(headers);
        var total = Math.Max(size, headerLength + 3);
        if (_buffer.Length < total) _buffer = new byte[Math.Max(total, _buffer.Length * 2)];
        var span = _buffer.AsSpan(0, total);
        Encoding.UTF8.GetBytes(headers, span);
        var body = span[headerLength..];
        // Lines of at most 76 characters plus CRLF; never a bare CR, so the size on the wire is exact.
        while (body.Length > 0)
        {
            var text = body.Length > LineText.Length + 2 ? Math.Min(LineText.Length, body.Length - 5) : body.Length - 2;
            LineText.AsSpan(0, text).CopyTo(body);
            body[text] = (byte)'\r';
            body[text + 1] = (byte)'\n';
            body = body[(text + 2)..];
        }
        return _buffer.AsMemory(0, total);
    }
}
