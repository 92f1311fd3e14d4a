namespace Router.Protocol;

/// <summary>The header section of a message (RFC 5322 s2.1): everything before the first empty line.</summary>
public static class HeaderSection
{
    /// <summary>The header fields, up to and including the CRLF that ends the last one; a message without a blank line is all header.</summary>
    public static ReadOnlySpan<byte> Of(ReadOnlySpan<byte> message)
    {
        if (message.StartsWith("\r\n"u8)) return [];
        var end = message.IndexOf("\r\n\r\n"u8);
        return end < 0 ? message : message[..(end + 2)];
    }
}
