using System.Globalization;
using System.Net;

namespace Router.Actors.Delivery;

/// <summary>
/// One entry of the static route table (Postfix transport_maps style): deliver a domain to a
/// fixed "host:port" instead of its MX hosts (RFC 5321 s5.1 allows local configuration to
/// override DNS). The host is an IP address, or a name looked up for A/AAAA only (no MX).
/// </summary>
internal sealed record StaticRoute(string Host, IPAddress? Address, int Port)
{
    /// <summary>Parses "host", "host:port", "1.2.3.4:port" or "[ipv6]:port"; throws on a malformed entry.</summary>
    public static StaticRoute Parse(string text, int defaultPort)
    {
        var value = text.Trim();
        string host;
        var port = defaultPort;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new FormatException($"static route '{text}': missing ']'");
            host = value[1..close];
            var rest = value[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':') throw new FormatException($"static route '{text}': expected ':port' after ']'");
                port = ParsePort(rest[1..], text);
            }
        }
        else
        {
            var colon = value.LastIndexOf(':');
            if (colon >= 0 && value.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                // More than one colon and no brackets: a bare IPv6 address without a port.
                host = value;
            }
            else if (colon >= 0)
            {
                host = value[..colon];
                port = ParsePort(value[(colon + 1)..], text);
            }
            else
            {
                host = value;
            }
        }

        host = host.TrimEnd('.').ToLowerInvariant();
        if (host.Length == 0) throw new FormatException($"static route '{text}': empty host");
        return new StaticRoute(host, IPAddress.TryParse(host, out var ip) ? ip : null, port);
    }

    private static int ParsePort(string s, string text) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new FormatException($"static route '{text}': '{s}' is not a port");
}
