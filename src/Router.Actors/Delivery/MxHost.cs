using System.Net;

namespace Router.Actors.Delivery;

/// <summary>
/// One host to deliver to (RFC 5321 s5.1): its name (for logs, the DSN's Remote-MTA and TLS
/// checks), its addresses to try in turn (IPv4 first, then IPv6), the port, and its MX
/// preference (0 for an implicit MX, a static route or an address literal).
/// </summary>
public sealed record MxHost(string Name, IReadOnlyList<IPAddress> Addresses, int Port, int Preference = 0);
