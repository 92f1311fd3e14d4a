using System.Globalization;
using System.Net;
using System.Text;

namespace Router.Protocol;

/// <summary>
/// Trace fields (RFC 5321 s4.4): the Received header added on acceptance, and the Return-Path and
/// Delivered-To lines added at final delivery. Every value placed here was validated by the
/// parser (no CR, LF or other controls), so a client cannot inject a header line.
/// </summary>
public static class TraceHeaders
{
    /// <summary>The "with" protocol name (RFC 3848, RFC 6531 s3.7.3).</summary>
    public static string Protocol(bool esmtp, bool tls, bool authenticated, bool utf8) =>
        (utf8 ? "UTF8SMTP" : esmtp ? "ESMTP" : "SMTP") + (tls ? "S" : "") + (authenticated ? "A" : "");

    public static byte[] Received(string heloName, IPAddress client, string hostname, string protocol, string id, string? forRecipient, DateTimeOffset when)
    {
        var sb = new StringBuilder(256);
        sb.Append("Received: from ").Append(AsciiName(heloName)).Append(" ([").Append(FormatAddress(client)).Append("])\r\n");
        sb.Append("\tby ").Append(hostname).Append(" (Router) with ").Append(protocol).Append(" id ").Append(id);
        if (forRecipient is not null) sb.Append("\r\n\tfor <").Append(forRecipient).Append('>');
        sb.Append("; ").Append(Rfc5322Date(when)).Append("\r\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static byte[] DeliveryHeaders(string? returnPath, string deliveredTo) =>
        Encoding.UTF8.GetBytes($"Return-Path: <{returnPath}>\r\nDelivered-To: {deliveredTo}\r\n");

    public static string Rfc5322Date(DateTimeOffset when) =>
        when.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + when.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal);

    /// <summary>Counts Received fields in the header section (used for loop detection, RFC 5321 s6.3).</summary>
    public static int CountReceived(ReadOnlySpan<byte> message)
    {
        var count = 0;
        var lineStart = 0;
        while (lineStart < message.Length)
        {
            var rest = message[lineStart..];
            var lf = rest.IndexOf((byte)'\n');
            var line = lf < 0 ? rest : rest[..lf];
            if (line.Length == 0 || (line.Length == 1 && line[0] == (byte)'\r')) break; // end of headers
            if (HeaderSection.IsField(line, "Received"u8)) count++; // "Received :" too (RFC 5322 s4.5)
            if (lf < 0) break;
            lineStart += lf + 1;
        }
        return count;
    }

    /// <summary>
    /// A UTF-8 EHLO name as its A-label (RFC 5890): the header may travel in a message without
    /// SMTPUTF8, where raw UTF-8 is not allowed (RFC 6532); a name that is no IDN keeps '?' for each non-ASCII character.
    /// </summary>
    private static string AsciiName(string name)
    {
        if (Ascii.IsValid(name)) return name;
        try
        {
            return Idn.GetAscii(name);
        }
        catch (ArgumentException)
        {
            return string.Concat(name.Select(c => char.IsAscii(c) ? c : '?'));
        }
    }

    private static readonly IdnMapping Idn = new();

    private static string FormatAddress(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() :
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6:" + address : address.ToString();
}
