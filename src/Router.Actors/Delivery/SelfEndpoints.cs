using System.Net;
using System.Net.NetworkInformation;

namespace Router.Actors.Delivery;

/// <summary>
/// The addresses and ports this router takes mail on, for <see cref="MxResolverOptions.IsSelf"/>:
/// a delivery to one of them would only hand the message back to ourselves (RFC 5321 s5.1).
/// A listener on a wildcard address (0.0.0.0, ::) is reached through every address of the
/// machine: its interfaces' addresses and the whole loopback range.
/// </summary>
public sealed class SelfEndpoints(IEnumerable<IPEndPoint> listeners)
{
    private readonly IPEndPoint[] _listeners = listeners.Select(e => new IPEndPoint(Plain(e.Address), e.Port)).ToArray();

    public bool Contains(IPAddress address, int port)
    {
        address = Plain(address);
        foreach (var listener in _listeners)
        {
            if (listener.Port != port) continue;
            if (listener.Address.Equals(address)) return true;
            if ((listener.Address.Equals(IPAddress.Any) || listener.Address.Equals(IPAddress.IPv6Any)) && IsOfThisMachine(address)) return true;
        }
        return false;
    }

    private static bool IsOfThisMachine(IPAddress address) =>
        IPAddress.IsLoopback(address)
        || NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Any(u => Plain(u.Address).Equals(address));

    private static IPAddress Plain(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
