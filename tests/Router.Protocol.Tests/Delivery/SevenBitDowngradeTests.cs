using System.Text;
using MimeKit;

namespace Router.Protocol.Tests.Delivery;

/// <summary>
/// The 7-bit form of an 8-bit message for a next hop without 8BITMIME (RFC 6152 s3): 7-bit bytes
/// only, the same content once decoded, and valid MIME (RFC 2045 s4) also when the message had no
/// MIME fields at all.
/// </summary>
public sealed class SevenBitDowngradeTests
{
    private const string Headers = "Received: by mx.router.test; Wed, 2 Dec 2026 16:00:00 +0000\r\nFrom: <alice@example.test>\r\nTo: <bob@remote.test>\r\nSubject: hello\r\n";

    private static (string Text, MimeMessage Parsed) Downgrade(byte[] message)
    {
        var sevenBit = SevenBitDowngrade.Apply(message).ToArray();
        Assert.DoesNotContain(sevenBit, b => b > 0x7F);
        return (Encoding.ASCII.GetString(sevenBit), MimeMessage.Load(new MemoryStream(sevenBit)));
    }

    private static byte[] Decoded(MimeEntity entity)
    {
        using var content = new MemoryStream();
        Assert.IsAssignableFrom<MimePart>(entity).Content!.DecodeTo(content);
        return content.ToArray();
    }

    private static string HeaderSection(string text) => text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)];

    [Fact]
    public void A_UTF8_message_without_MIME_fields_becomes_MIME_text_in_utf_8()
    {
        var body = "Grüße aus München\r\nzweite Zeile\r\n";

        var (text, parsed) = Downgrade(Encoding.UTF8.GetBytes(Headers + "\r\n" + body));

        var header = HeaderSection(text);
        Assert.StartsWith(Headers, header + "\r\n", StringComparison.Ordinal);
        Assert.Contains("\r\nMIME-Version: 1.0\r\n", header + "\r\n", StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: text/plain; charset=utf-8\r\n", header + "\r\n", StringComparison.Ordinal);
        Assert.NotEqual(ContentEncoding.Default, Assert.IsType<TextPart>(parsed.Body).ContentTransferEncoding);
        Assert.Equal(body, Encoding.UTF8.GetString(Decoded(parsed.Body)));
    }

    [Fact]
    public void A_message_without_MIME_fields_in_another_8bit_charset_is_labelled_unknown_8bit_and_keeps_its_bytes()
    {
        // RFC 1428: 8-bit text in an unknown character set; utf-8 or the us-ascii default would mislabel it.
        var body = Encoding.Latin1.GetBytes("Gr\u00fc\u00dfe aus M\u00fcnchen\r\n");

        var (text, parsed) = Downgrade([.. Encoding.ASCII.GetBytes(Headers + "\r\n"), .. body]);

        Assert.Contains("\r\nMIME-Version: 1.0\r\n", HeaderSection(text) + "\r\n", StringComparison.Ordinal);
        Assert.Equal("unknown-8bit", parsed.Body!.ContentType.Charset);
        Assert.Equal("text/plain", parsed.Body.ContentType.MimeType);
        Assert.Equal(body, Decoded(parsed.Body));
    }

    [Fact]
    public void A_MIME_message_keeps_its_own_fields_and_gets_none_twice()
    {
        var message = Headers + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
        var body = Encoding.Latin1.GetBytes("Gr\u00fc\u00dfe\r\n");

        var (text, parsed) = Downgrade([.. Encoding.ASCII.GetBytes(message), .. body]);

        Assert.Single(parsed.Headers, h => h.Id == HeaderId.MimeVersion);
        Assert.Single(HeaderSection(text).Split("\r\n"), l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("iso-8859-1", parsed.Body!.ContentType.Charset);
        Assert.Equal(body, Decoded(parsed.Body));
    }

    [Fact]
    public void A_multipart_message_has_its_8bit_part_reencoded_with_the_part_headers_kept()
    {
        var message = Headers + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
            "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain part\r\n" +
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-Disposition: inline\r\n\r\nGrüße\r\n" +
            "--b1--\r\n";

        var (_, parsed) = Downgrade(Encoding.UTF8.GetBytes(message));

        var multipart = Assert.IsType<Multipart>(parsed.Body);
        Assert.Equal(2, multipart.Count);
        Assert.Equal("plain part", ((TextPart)multipart[0]).Text.TrimEnd());
        var eightBit = Assert.IsType<TextPart>(multipart[1]);
        Assert.NotEqual(ContentEncoding.EightBit, eightBit.ContentTransferEncoding);
        Assert.Equal("utf-8", eightBit.ContentType.Charset);
        Assert.NotNull(eightBit.ContentDisposition);
        Assert.Equal("Grüße", eightBit.Text.TrimEnd());
    }

    [Fact]
    public void A_7bit_message_is_returned_as_it_is()
    {
        var message = Encoding.ASCII.GetBytes(Headers + "\r\nplain text\r\n");

        Assert.True(SevenBitDowngrade.Apply(message).Span.SequenceEqual(message));
    }
}
