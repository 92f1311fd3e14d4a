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

    /// <summary>
    /// Whether the message begins with a header field: its first line starts with a field name
    /// (printable US-ASCII but the colon, RFC 5322 s3.6.8), optional WSP (the obsolete syntax of
    /// s4.5), then the colon. Reads no further than that colon.
    /// </summary>
    public static bool BeginsWithField(ReadOnlySpan<byte> message)
    {
        var i = 0;
        while (i < message.Length && message[i] is >= 33 and <= 126 and not (byte)':') i++;
        if (i == 0) return false;
        while (i < message.Length && message[i] is (byte)' ' or (byte)'\t') i++;
        return i < message.Length && message[i] == (byte)':';
    }

    /// <summary>
    /// The message such that fields put before it stay fields of their own (RFC 5322 s2.1: header
    /// fields, an empty line, the body): itself when it begins with a header field or with the
    /// empty line; otherwise (a first line that starts with WSP, which would fold into the field
    /// above it, or that is no field, or no line at all) it is all body, and gets an empty line before it.
    /// </summary>
    public static ReadOnlyMemory<byte> Framed(ReadOnlyMemory<byte> message)
    {
        if (message.Span.StartsWith("\r\n"u8) || BeginsWithField(message.Span)) return message;
        var framed = new byte[message.Length + 2];
        "\r\n"u8.CopyTo(framed);
        message.Span.CopyTo(framed.AsSpan(2));
        return framed;
    }

    /// <summary>
    /// The message without the header fields named <paramref name="field"/> (with their folded
    /// continuation lines); the message itself when it has none.
    /// </summary>
    public static ReadOnlyMemory<byte> Without(ReadOnlyMemory<byte> message, ReadOnlySpan<byte> field)
    {
        var headers = Of(message.Span);
        List<(int Start, int End)>? drop = null;
        var start = 0;
        while (start < headers.Length)
        {
            var end = LineEnd(headers, start);
            if (IsField(headers[start..end], field))
            {
                // A field goes on over the lines that start with a space or a tab (RFC 5322 s2.2.3).
                while (end < headers.Length && headers[end] is (byte)' ' or (byte)'\t') end = LineEnd(headers, end);
                (drop ??= []).Add((start, end));
            }
            start = end;
        }
        if (drop is null) return message;
        var kept = new byte[message.Length - drop.Sum(d => d.End - d.Start)];
        var from = 0;
        var to = 0;
        foreach (var (dropStart, dropEnd) in drop)
        {
            message.Span[from..dropStart].CopyTo(kept.AsSpan(to));
            to += dropStart - from;
            from = dropEnd;
        }
        message.Span[from..].CopyTo(kept.AsSpan(to));
        return kept;
    }

    private static int LineEnd(ReadOnlySpan<byte> headers, int start)
    {
        var lf = headers[start..].IndexOf((byte)'\n');
        return lf < 0 ? headers.Length : start + lf + 1;
    }

    /// <summary>
    /// Whether <paramref name="line"/> is a field named <paramref name="name"/> (any case): the name, then
    /// the colon, or WSP and then the colon (the obsolete syntax of RFC 5322 s4.5, "Return-Path :").
    /// </summary>
    internal static bool IsField(ReadOnlySpan<byte> line, ReadOnlySpan<byte> name)
    {
        if (line.Length <= name.Length || !System.Text.Ascii.EqualsIgnoreCase(line[..name.Length], name)) return false;
        var after = line[name.Length..].TrimStart(" \t"u8);
        return !after.IsEmpty && after[0] == (byte)':';
    }
}
