using System.Net;

namespace Router.Actors.Delivery;

/// <summary>
/// The name of a next hop in the settings keyed by one (router.relay.auth and the host:port
/// entries of router.delivery.tls-policy; Postfix keys smtp_sasl_password_maps and
/// smtp_tls_policy_maps by next hop too): "host:port" as a relay.transport route writes it, the
/// host in lower case without a trailing dot, an IPv6 address in brackets ("[2001:db8::1]:587").
/// </summary>
internal static class NextHop
{
    /// <summary>
    /// The key of the host (a route's or an MX host's name, or an address) and port a connection
    /// goes to. An address is written in its one canonical form ("[0:0:0::1]" is "[::1]"), so that
    /// a key matches the address however the route spells it.
    /// </summary>
    public static string Key(string host, int port)
    {
        var name = host.Trim().TrimEnd('.').ToLowerInvariant();
        if (IPAddress.TryParse(name, out var address)) name = address.ToString();
        return name.Contains(':', StringComparison.Ordinal) ? $"[{name}]:{port}" : $"{name}:{port}";
    }

    /// <summary>
    /// A key as an operator writes it: "host:port", "[host]:port", "[ipv6]:port", or a host alone
    /// for <paramref name="defaultPort"/> (delivery.mx-port, as for a route). Throws a FormatException
    /// on anything else ("*", a wildcard or a bad port: credentials go to one named host only).
    /// </summary>
    public static string ParseKey(string text, int defaultPort)
    {
        StaticRoute route;
        try
        {
            route = StaticRoute.Parse(text, defaultPort);
        }
        catch (FormatException e)
        {
            throw new FormatException($"'{text}' is not a next hop of the form host:port ({e.Message})");
        }
        if (route.Address is null && !IsHostName(route.Host))
            throw new FormatException($"'{text}' is not a next hop of the form host:port (a host name or an IP address, then a port)");
        return Key(route.Host, route.Port);
    }

    private static bool IsHostName(string host) => host.Length <= 253 && HasDnsLabels(host);

    /// <summary>Letters, digits, '-' and '_' in dot-separated labels of 1-63 characters (RFC 1123 s2.1, as names are written in DNS).</summary>
    internal static bool HasDnsLabels(string name) =>
        name.Split('.').All(label => label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
}
