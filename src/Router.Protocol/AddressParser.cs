using System.Text;

namespace Router.Protocol;

/// <summary>
/// RFC 5321 s4.1.2 path syntax: <c>Path = "&lt;" [ A-d-l ":" ] Mailbox "&gt;"</c>, with the
/// SMTPUTF8 extensions of RFC 6531 s3.3 when the client declared them. Angle brackets are required;
/// a source route is accepted and ignored (s4.1.2, s3.3). Quoted local parts keep their quotes.
/// Lengths: local part 64, domain 255, path 256 octets (s4.5.3.1).
/// </summary>
public static class AddressParser
{
    private const int MaxLocalPart = 64;
    private const int MaxDomain = 255;
    private const int MaxPath = 256;

    /// <summary>Parses "&lt;...&gt;" at the start of <paramref name="s"/>; <paramref name="consumed"/> is the bytes used.</summary>
    public static bool TryParsePath(ReadOnlySpan<byte> s, bool allowUtf8, bool allowNull, out MailAddress? address, out int consumed)
    {
        address = null;
        consumed = 0;
        if (s.Length < 2 || s[0] != (byte)'<') return false;
        var close = FindClosingBracket(s);
        if (close < 0 || close + 1 > MaxPath + 2) return false;
        consumed = close + 1;
        var inner = s[1..close];
        if (inner.IsEmpty) return allowNull;

        // Source route "@a,@b:" is accepted but ignored (RFC 5321 s4.1.2, Appendix C).
        if (inner[0] == (byte)'@')
        {
            var colon = inner.IndexOf((byte)':');
            if (colon < 0 || !IsValidRoute(inner[..colon], allowUtf8)) return false;
            inner = inner[(colon + 1)..];
        }
        return TryParseMailbox(inner, allowUtf8, out address);
    }

    /// <summary>Parses a bare Mailbox: <c>Local-part "@" ( Domain / address-literal )</c>.</summary>
    public static bool TryParseMailbox(ReadOnlySpan<byte> s, bool allowUtf8, out MailAddress? address)
    {
        address = null;
        int at;
        if (s.Length > 0 && s[0] == (byte)'"')
        {
            var end = QuotedStringEnd(s);
            if (end < 0 || end >= s.Length || s[end] != (byte)'@') return false;
            // qtextSMTP is ASCII; RFC 6531 s3.3 adds well-formed UTF-8, and only under SMTPUTF8.
            if (allowUtf8 ? !System.Text.Unicode.Utf8.IsValid(s[..end]) : !Ascii.IsValid(s[..end])) return false;
            at = end;
        }
        else
        {
            at = s.LastIndexOf((byte)'@');
            if (at <= 0 || !IsDotString(s[..at], allowUtf8)) return false;
        }
        var local = s[..at];
        var domain = s[(at + 1)..];
        if (local.Length > MaxLocalPart || domain.Length is 0 or > MaxDomain) return false;
        if (!(domain[0] == (byte)'[' ? IsAddressLiteral(domain) : IsDomain(domain, allowUtf8))) return false;
        address = new MailAddress(Canonical(local, allowUtf8), Encoding.UTF8.GetString(domain));
        return true;
    }

    /// <summary>
    /// A quoted local part that needs no quotes is the same mailbox as its Dot-string ("demo" is
    /// demo, RFC 5321 s4.1.2), so it is kept in that form, as Postfix does; any other keeps its quotes.
    /// </summary>
    private static string Canonical(ReadOnlySpan<byte> local, bool allowUtf8)
    {
        if (local[0] != (byte)'"') return Encoding.UTF8.GetString(local);
        Span<byte> plain = stackalloc byte[local.Length];
        var n = 0;
        for (var i = 1; i < local.Length - 1; i++)
        {
            if (local[i] == (byte)'\\') i++;
            plain[n++] = local[i];
        }
        return Encoding.UTF8.GetString(IsDotString(plain[..n], allowUtf8) ? plain[..n] : local);
    }

    /// <summary>
    /// RFC 5321 Domain: sub-domains of letters, digits and inner hyphens (U-labels with SMTPUTF8);
    /// with <paramref name="allowUnderscore"/> also '_' (host names seen in the wild, see <see cref="IsHeloName"/>).
    /// </summary>
    public static bool IsDomain(ReadOnlySpan<byte> s, bool allowUtf8, bool allowUnderscore = false)
    {
        if (s.IsEmpty || s.Length > MaxDomain) return false;
        foreach (var range in s.Split((byte)'.'))
        {
            var label = s[range];
            if (label.IsEmpty || label.Length > 63) return false;
            if (label[0] == (byte)'-' || label[^1] == (byte)'-') return false;
            foreach (var b in label)
            {
                if (b >= 0x80)
                {
                    if (!allowUtf8) return false;
                }
                else if (!(IsLetterOrDigit(b) || b == (byte)'-' || (allowUnderscore && b == (byte)'_'))) return false;
            }
        }
        if (allowUtf8 && !System.Text.Unicode.Utf8.IsValid(s)) return false;
        return true;
    }

    /// <summary>
    /// An EHLO/HELO name: a domain or an address literal. Control characters and spaces are refused,
    /// so the name can never inject a header line. As lenient as Postfix's valid_hostname: '_' is
    /// allowed (Windows computer names), and a trailing dot (the root of a fully qualified name).
    /// </summary>
    public static bool IsHeloName(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return false;
        if (s[0] == (byte)'[') return IsAddressLiteral(s);
        var name = s[^1] == (byte)'.' ? s[..^1] : s;
        return IsDomain(name, allowUtf8: true, allowUnderscore: true);
    }

    private static bool IsValidRoute(ReadOnlySpan<byte> route, bool allowUtf8)
    {
        foreach (var range in route.Split((byte)','))
        {
            var hop = route[range];
            if (hop.Length < 2 || hop[0] != (byte)'@' || !IsDomain(hop[1..], allowUtf8)) return false;
        }
        return true;
    }

    private static int FindClosingBracket(ReadOnlySpan<byte> s)
    {
        var quoted = false;
        for (var i = 1; i < s.Length; i++)
        {
            var b = s[i];
            if (quoted)
            {
                if (b == (byte)'\\') i++;
                else if (b == (byte)'"') quoted = false;
            }
            else if (b == (byte)'"') quoted = true;
            else if (b == (byte)'>') return i;
            else if (b == (byte)'<') return -1;
        }
        return -1;
    }

    /// <summary>Index just past the closing quote of a Quoted-string (RFC 5321 qtextSMTP / quoted-pairSMTP), or -1.</summary>
    private static int QuotedStringEnd(ReadOnlySpan<byte> s)
    {
        for (var i = 1; i < s.Length; i++)
        {
            var b = s[i];
            if (b == (byte)'\\')
            {
                if (i + 1 >= s.Length || s[i + 1] < 32 || s[i + 1] > 126) return -1;
                i++;
            }
            else if (b == (byte)'"') return i + 1;
            else if (b < 32 || b == 127) return -1;
        }
        return -1;
    }

    private static bool IsDotString(ReadOnlySpan<byte> s, bool allowUtf8)
    {
        if (s.IsEmpty || s[0] == (byte)'.' || s[^1] == (byte)'.') return false;
        var previousDot = false;
        foreach (var b in s)
        {
            if (b == (byte)'.')
            {
                if (previousDot) return false;
                previousDot = true;
                continue;
            }
            previousDot = false;
            if (b >= 0x80)
            {
                if (!allowUtf8) return false;
            }
            else if (!IsAtext(b)) return false;
        }
        return !allowUtf8 || System.Text.Unicode.Utf8.IsValid(s);
    }

    private static bool IsAddressLiteral(ReadOnlySpan<byte> s)
    {
        if (s.Length < 3 || s[0] != (byte)'[' || s[^1] != (byte)']') return false;
        var inner = s[1..^1];
        if (inner.Length > 5 && Ascii.EqualsIgnoreCase(inner[..5], "IPv6:"u8))
        {
            // IPv6-addr holds hex digits, colons and dots only. IPAddress.TryParse alone would also take
            // a zone id ("%" and any text, CR LF included), which is not RFC 5321 and could inject a header.
            var v6 = inner[5..];
            foreach (var b in v6)
            {
                if (!(char.IsAsciiHexDigit((char)b) || b == (byte)':' || b == (byte)'.')) return false;
            }
            return System.Net.IPAddress.TryParse(Encoding.ASCII.GetString(v6), out var address)
                && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }
        return IsIPv4Literal(inner);
    }

    // IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT of value 0-255, in decimal.
    private static bool IsIPv4Literal(ReadOnlySpan<byte> s)
    {
        var parts = 0;
        foreach (var range in s.Split((byte)'.'))
        {
            var part = s[range];
            if (part.Length is 0 or > 3 || ++parts > 4) return false;
            var value = 0;
            foreach (var b in part)
            {
                if ((uint)(b - '0') > 9) return false;
                value = (value * 10) + (b - '0');
            }
            if (value > 255) return false;
        }
        return parts == 4;
    }

    private static bool IsLetterOrDigit(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a' || (uint)(b - '0') <= 9;

    // RFC 5322 atext: ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~"
    private static bool IsAtext(byte b) => IsLetterOrDigit(b) || "!#$%&'*+-/=?^_`{|}~"u8.Contains(b);
}
