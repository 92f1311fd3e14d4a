using System.Net;
using System.Text;
using Router.Protocol;

namespace Router.Actors.Dnsbl;

/// <summary>
/// A client found in a DNS blocklist, and the reply its recipients get, worded as Postfix's
/// default_rbl_reply: "554 5.7.1 Service unavailable; Client host [192.0.2.99] blocked using
/// zen.spamhaus.org; &lt;the list's TXT record&gt;". The TXT text comes from the list's operator:
/// it is kept to one line of printable ASCII and <see cref="MaxTextLength"/> characters.
/// </summary>
public sealed class DnsblListing
{
    /// <summary>The most of a list's TXT text quoted in the reply (RFC 5321 s4.5.3.1.5: a reply line is at most 512 octets).</summary>
    public const int MaxTextLength = 200;

    public DnsblListing(IPAddress client, string zone, string? text)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        Zone = zone;
        Text = text is null ? null : Sanitize(text);
        var reason = string.IsNullOrEmpty(Text) ? "" : "; " + Text;
        Reply = new SmtpReply(554, "5.7.1", $"Service unavailable; Client host [{client}] blocked using {zone}{reason}");
    }

    /// <summary>The zone that lists the client.</summary>
    public string Zone { get; }

    /// <summary>The list's TXT text for the client, sanitized; null when it publishes none.</summary>
    public string? Text { get; }

    /// <summary>The refusal of a RCPT from the client.</summary>
    public SmtpReply Reply { get; }

    /// <summary>Printable ASCII only (anything else becomes '?'), runs of white space as one space, at most <see cref="MaxTextLength"/> characters.</summary>
    internal static string Sanitize(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, MaxTextLength));
        foreach (var c in text)
        {
            if (sb.Length == MaxTextLength) break;
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                if (sb.Length > 0 && sb[^1] != ' ') sb.Append(' ');
            }
            else sb.Append(c is > ' ' and < '\x7f' ? c : '?');
        }
        return sb.ToString().TrimEnd();
    }
}
