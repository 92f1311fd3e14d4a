using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Router.Actors.Dnsbl;

/// <summary>
/// One DNS blocklist of router.smtp.dnsbl (RFC 5782), written as Postfix's reject_rbl_client
/// takes it: "zone", where any A record found for the client counts as a listing, or
/// "zone=d.d.d.d", where only an A record that matches counts. Each d is a number or a "[...]"
/// holding ";"-separated numbers and "lo..hi" ranges ("bl.example=127.0.0.[2..11]",
/// "bl.example=127.0.0.[2;4;10..11]"), so the return codes a list uses for other purposes (an
/// allow list's, or Spamhaus's 127.255.255.x errors) are not taken for a listing.
/// </summary>
public sealed class DnsblSite
{
    /// <summary>Room left in a DNS name (253 octets) for the IPv6 nibbles in front of the zone: 32 labels of one digit.</summary>
    private const int MaxZoneLength = 253 - 64;

    /// <summary>Per octet of the A record, the ranges that count; null: any A record counts.</summary>
    private readonly (int Low, int High)[][]? _filter;

    private DnsblSite(string zone, (int, int)[][]? filter, string text)
    {
        Zone = zone;
        _filter = filter;
        Text = text;
    }

    /// <summary>The zone queried, lower case, without a trailing dot: "zen.spamhaus.org".</summary>
    public string Zone { get; }

    /// <summary>The entry as configured (its zone normalized): "bl.example=127.0.0.[2..11]".</summary>
    public string Text { get; }

    public override string ToString() => Text;

    /// <summary>Whether an A record of the list's answer counts as a listing.</summary>
    public bool Counts(IPAddress answer)
    {
        if (_filter is null) return true;
        if (answer.AddressFamily != AddressFamily.InterNetwork) return false;
        Span<byte> octets = stackalloc byte[4];
        answer.TryWriteBytes(octets, out _);
        for (var i = 0; i < 4; i++)
        {
            var matched = false;
            foreach (var (low, high) in _filter[i]) matched |= octets[i] >= low && octets[i] <= high;
            if (!matched) return false;
        }
        return true;
    }

    /// <summary>Reads one entry; throws <see cref="FormatException"/> saying what is wrong with it.</summary>
    public static DnsblSite Parse(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var text = entry.Trim();
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        var zone = (eq < 0 ? text : text[..eq]).Trim().TrimEnd('.').ToLowerInvariant();
        if (!IsZone(zone))
            throw new FormatException($"'{entry}': '{zone}' is not a DNS zone such as zen.spamhaus.org (letters, digits, '-' and '_' in two or more labels, at most {MaxZoneLength} characters)");
        if (eq < 0) return new DnsblSite(zone, null, zone);

        var pattern = text[(eq + 1)..].Trim();
        var fields = SplitOctets(pattern);
        if (fields.Count != 4)
            throw new FormatException($"'{entry}': the result filter '{pattern}' is not of the form d.d.d.d, such as 127.0.0.2 or 127.0.0.[2..11]");
        var filter = new (int, int)[4][];
        for (var i = 0; i < 4; i++)
            filter[i] = ParseOctet(fields[i]) ?? throw new FormatException(
                $"'{entry}': '{fields[i]}' in the result filter is not a number from 0 to 255, nor a [...] of ';'-separated numbers and lo..hi ranges");
        return new DnsblSite(zone, filter, $"{zone}={pattern}");
    }

    /// <summary>Splits "127.0.0.[2..11]" into its four octet fields: the dots of a range inside [] do not separate.</summary>
    private static List<string> SplitOctets(string pattern)
    {
        var fields = new List<string>();
        var start = 0;
        var depth = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '[') depth++;
            else if (pattern[i] == ']') depth--;
            else if (pattern[i] == '.' && depth == 0)
            {
                fields.Add(pattern[start..i]);
                start = i + 1;
            }
        }
        fields.Add(pattern[start..]);
        return fields;
    }

    /// <summary>"2", or "[2..11]", "[2;4;10..11]"; null when it is none of them.</summary>
    private static (int, int)[]? ParseOctet(string field)
    {
        if (field.Length > 0 && char.IsAsciiDigit(field[0]) && Number(field) is { } single) return [(single, single)];
        if (field.Length < 3 || field[0] != '[' || field[^1] != ']') return null;
        var ranges = new List<(int, int)>();
        foreach (var item in field[1..^1].Split(';'))
        {
            var dots = item.IndexOf("..", StringComparison.Ordinal);
            var low = Number(dots < 0 ? item : item[..dots]);
            var high = dots < 0 ? low : Number(item[(dots + 2)..]);
            if (low is null || high is null || low > high) return null;
            ranges.Add((low.Value, high.Value));
        }
        return [.. ranges];
    }

    private static int? Number(string text) =>
        text.Length is > 0 and <= 3 && text.All(char.IsAsciiDigit) && int.Parse(text, CultureInfo.InvariantCulture) is var n && n <= 255 ? n : null;

    /// <summary>At least two labels (a zone, not a top-level domain), short enough to hold a reversed address.</summary>
    private static bool IsZone(string zone) =>
        zone.Length is > 0 and <= MaxZoneLength && zone.Contains('.', StringComparison.Ordinal) && Delivery.NextHop.HasDnsLabels(zone);
}
