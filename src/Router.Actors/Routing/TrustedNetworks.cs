using System.Net;

namespace Router.Actors.Routing;

/// <summary>Client networks allowed to relay (Postfix's mynetworks), as CIDR blocks.</summary>
public sealed class TrustedNetworks
{
    private readonly IPNetwork[] _networks;

    public TrustedNetworks(IEnumerable<string> cidrs) =>
        _networks = cidrs.Select(c => IPNetwork.TryParse(c.Trim(), out var n)
            ? n
            : throw new FormatException($"'{c}' is not a CIDR block such as 127.0.0.0/8")).ToArray();

    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var network in _networks)
        {
            if (network.Contains(address)) return true;
        }
        return false;
    }
}
