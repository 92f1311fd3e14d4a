using MimeKit;

namespace Router.Protocol;

/// <summary>
/// RFC 6152 s3: an 8-bit message may go to a server without 8BITMIME only once converted to
/// 7 bit. Parts with 8-bit content are re-encoded (quoted-printable or base64, whichever MimeKit
/// finds shorter for the part), as Postfix's smtp client does by default; the header section is
/// left as it is.
/// </summary>
public static class SevenBitDowngrade
{
    /// <summary>The message itself when it has no 8-bit byte, else its 7-bit form.</summary>
    public static ReadOnlyMemory<byte> Apply(ReadOnlyMemory<byte> message)
    {
        if (message.Span.IndexOfAnyInRange((byte)0x80, (byte)0xFF) < 0) return message;
        using var input = new MemoryStream(message.ToArray(), writable: false);
        var parsed = MimeMessage.Load(input);
        parsed.Prepare(EncodingConstraint.SevenBit);
        using var output = new MemoryStream(message.Length + message.Length / 2);
        parsed.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, output);
        return output.ToArray();
    }
}
