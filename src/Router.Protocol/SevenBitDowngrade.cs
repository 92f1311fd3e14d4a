using System.Text.Unicode;
using MimeKit;

namespace Router.Protocol;

/// <summary>
/// RFC 6152 s3: an 8-bit message may go to a server without 8BITMIME only once converted to
/// 7 bit. Parts with 8-bit content are re-encoded (quoted-printable or base64, whichever MimeKit
/// finds shorter for the part), as Postfix's smtp client does by default; the header section is
/// left as it is, except that a message without MIME fields becomes a MIME message (RFC 2045 s4:
/// a Content-Transfer-Encoding means nothing without MIME-Version, and the default type, s5.2,
/// would call the 8-bit text us-ascii): MIME-Version: 1.0 and, where no Content-Type is given,
/// text/plain in utf-8 when the body is valid UTF-8, else in unknown-8bit (RFC 1428).
/// </summary>
public static class SevenBitDowngrade
{
    /// <summary>The message itself when it has no 8-bit byte, else its 7-bit form.</summary>
    public static ReadOnlyMemory<byte> Apply(ReadOnlyMemory<byte> message)
    {
        if (message.Span.IndexOfAnyInRange((byte)0x80, (byte)0xFF) < 0) return message;
        using var input = new MemoryStream(message.ToArray(), writable: false);
        var parsed = MimeMessage.Load(input);
        DeclareMime(parsed);
        parsed.Prepare(EncodingConstraint.SevenBit);
        using var output = new MemoryStream(message.Length + message.Length / 2);
        parsed.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, output);
        return output.ToArray();
    }

    /// <summary>Adds MIME-Version, and the charset of a body that has no Content-Type, before the body gets an encoding.</summary>
    private static void DeclareMime(MimeMessage parsed)
    {
        if (!parsed.Headers.Contains(HeaderId.MimeVersion)) parsed.MimeVersion = new Version(1, 0);
        if (parsed.Body is not TextPart text || text.Headers.Contains(HeaderId.ContentType)) return;
        using var body = new MemoryStream();
        text.Content?.DecodeTo(body);
        text.ContentType.Charset = Utf8.IsValid(body.GetBuffer().AsSpan(0, (int)body.Length)) ? "utf-8" : "unknown-8bit";
    }
}
