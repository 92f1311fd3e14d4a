using System.Text;

namespace Router.Protocol;

/// <summary>
/// RFC 6409 s8.2/s8.3: a message submission agent may add a missing Date and Message-ID header
/// field. Only the header section is looked at (up to the first empty line); field names are
/// matched case-insensitively at the start of a line, so a folded continuation never counts.
/// </summary>
public static class SubmissionHeaders
{
    /// <summary>
    /// The fields to put before the message (Date, Message-ID, CRLF-terminated), or an empty
    /// array when the message already has both.
    /// </summary>
    public static byte[] Missing(ReadOnlySpan<byte> message, string messageIdDomain, string uniquePart, DateTimeOffset now)
    {
        var (hasDate, hasMessageId) = Scan(message);
        if (hasDate && hasMessageId) return [];
        var sb = new StringBuilder(96);
        if (!hasDate) sb.Append("Date: ").Append(TraceHeaders.Rfc5322Date(now)).Append("\r\n");
        if (!hasMessageId) sb.Append("Message-ID: <").Append(uniquePart).Append('@').Append(messageIdDomain).Append(">\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static (bool Date, bool MessageId) Scan(ReadOnlySpan<byte> message)
    {
        bool date = false, messageId = false;
        var rest = message;
        while (!rest.IsEmpty)
        {
            var lf = rest.IndexOf((byte)'\n');
            var line = lf < 0 ? rest : rest[..lf];
            if (line.IsEmpty || (line.Length == 1 && line[0] == (byte)'\r')) break; // end of the header section
            date |= HeaderSection.IsField(line, "Date"u8); // "Date :" too (obsolete syntax, RFC 5322 s4.5)
            messageId |= HeaderSection.IsField(line, "Message-ID"u8);
            if (lf < 0) break;
            rest = rest[(lf + 1)..];
        }
        return (date, messageId);
    }
}
