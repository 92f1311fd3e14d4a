using System.Buffers;
using System.Text;

namespace Router.Protocol.Client;

/// <summary>
/// Cuts one reply (RFC 5321 s4.2) off received bytes: "250-text" lines until a "250 text" (or bare
/// "250") line, all with the same code, with an RFC 3463 enhanced code lifted from the text when the
/// first line starts with one (RFC 2034). Line length and count are bounded so a hostile peer
/// cannot make the client buffer forever. A bare LF is tolerated as a line end in replies.
/// </summary>
internal static class SmtpReplyParser
{
    public static ReplyParseStatus TryParse(
        ref ReadOnlySequence<byte> buffer, int maxLineLength, int maxLines, out SmtpReply? reply, out string? error)
    {
        reply = null;
        error = null;
        var reader = new SequenceReader<byte>(buffer);
        var code = 0;
        string? enhanced = null;
        string? single = null;
        List<string>? many = null;
        var count = 0;
        byte[]? rented = null;
        try
        {
            while (true)
            {
                if (!reader.TryReadTo(out ReadOnlySequence<byte> raw, (byte)'\n'))
                {
                    if (reader.Remaining >= maxLineLength) return Malformed(out error, $"reply line longer than {maxLineLength} bytes");
                    return ReplyParseStatus.Incomplete;
                }
                if (raw.Length + 1 > maxLineLength) return Malformed(out error, $"reply line longer than {maxLineLength} bytes");
                if (++count > maxLines) return Malformed(out error, $"reply has more than {maxLines} lines");

                ReadOnlySpan<byte> line;
                if (raw.IsSingleSegment)
                {
                    line = raw.FirstSpan;
                }
                else
                {
                    rented ??= ArrayPool<byte>.Shared.Rent(maxLineLength);
                    raw.CopyTo(rented);
                    line = rented.AsSpan(0, (int)raw.Length);
                }
                if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];

                if (line.Length < 3 || !IsDigit(line[0], '2', '5') || !IsDigit(line[1], '0', '9') || !IsDigit(line[2], '0', '9'))
                    return Malformed(out error, "reply line does not start with a 3-digit code: " + Printable(line));
                var lineCode = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
                if (count == 1) code = lineCode;
                else if (lineCode != code) return Malformed(out error, $"reply mixes codes {code} and {lineCode}");

                var last = true;
                var text = ReadOnlySpan<byte>.Empty;
                if (line.Length > 3)
                {
                    if (line[3] == (byte)'-') last = false;
                    else if (line[3] != (byte)' ') return Malformed(out error, "reply code not followed by space or hyphen: " + Printable(line));
                    text = line[4..];
                }

                if (count == 1) enhanced = ReadEnhanced(text, line[0]);
                if (enhanced is not null && text.Length >= enhanced.Length && StartsWithAscii(text, enhanced))
                {
                    text = text[enhanced.Length..];
                    if (text.Length > 0 && text[0] == (byte)' ') text = text[1..];
                }

                var s = text.IsEmpty ? string.Empty : Encoding.UTF8.GetString(text);
                if (count == 1) single = s;
                else (many ??= [single!]).Add(s);

                if (last)
                {
                    buffer = buffer.Slice(reader.Position);
                    reply = new SmtpReply(code, enhanced, many is null ? [single!] : [.. many]);
                    return ReplyParseStatus.Complete;
                }
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>"c.sss.ddd" with c matching the reply's class (RFC 3463 s2), followed by a space or the end.</summary>
    private static string? ReadEnhanced(ReadOnlySpan<byte> text, byte replyClass)
    {
        if (text.Length < 5 || text[0] != replyClass || text[1] != (byte)'.') return null;
        var i = 2;
        var subject = CountDigits(text[i..]);
        if (subject is < 1 or > 3) return null;
        i += subject;
        if (i >= text.Length || text[i] != (byte)'.') return null;
        i++;
        var detail = CountDigits(text[i..]);
        if (detail is < 1 or > 3) return null;
        i += detail;
        if (i < text.Length && text[i] != (byte)' ') return null;
        return Encoding.ASCII.GetString(text[..i]);
    }

    private static int CountDigits(ReadOnlySpan<byte> s)
    {
        var n = 0;
        while (n < s.Length && IsDigit(s[n], '0', '9')) n++;
        return n;
    }

    private static bool StartsWithAscii(ReadOnlySpan<byte> text, string prefix)
    {
        for (var i = 0; i < prefix.Length; i++)
        {
            if (text[i] != prefix[i]) return false;
        }
        return true;
    }

    private static bool IsDigit(byte b, char lo, char hi) => b >= lo && b <= hi;

    private static ReplyParseStatus Malformed(out string error, string message)
    {
        error = message;
        return ReplyParseStatus.Malformed;
    }

    private static string Printable(ReadOnlySpan<byte> line)
    {
        var shown = line[..Math.Min(line.Length, 64)];
        var chars = new char[shown.Length];
        for (var i = 0; i < shown.Length; i++) chars[i] = shown[i] is >= 0x20 and < 0x7f ? (char)shown[i] : '?';
        return "\"" + new string(chars) + "\"";
    }
}
