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
