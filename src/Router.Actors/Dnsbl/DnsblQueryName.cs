using System.Net;
using System.Net.Sockets;

namespace Router.Actors.Dnsbl;

/// <summary>
/// The name a client address is looked up under in a DNS blocklist (RFC 5782 s2.1, s2.4): the
/// octets of an IPv4 address in reverse order ("192.0.2.99" under "bl.example" is
/// "99.2.0.192.bl.example"), the 32 nibbles of an IPv6 address in reverse order, one lower-case
/// hex digit per label. An IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4
/// client) is looked up as the IPv4 address it is.
/// </summary>
public static class DnsblQueryName
{
    public static string For(IPAddress client, string zone)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(zone);
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        client.TryWriteBytes(bytes, out var length);
        if (client.AddressFamily == AddressFamily.InterNetwork)
            return $"{bytes[3]}.{bytes[2]}.{bytes[1]}.{bytes[0]}.{zone}";

        Span<char> name = stackalloc char[64];
        for (var i = 0; i < length; i++)
        {
            var b = bytes[length - 1 - i];
            name[4 * i] = Hex(b & 0xf);
            name[4 * i + 1] = '.';
            name[4 * i + 2] = Hex(b >> 4);
            name[4 * i + 3] = '.';
        }
        return string.Concat(name, zone);
    }

    private static char Hex(int nibble) => (char)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
