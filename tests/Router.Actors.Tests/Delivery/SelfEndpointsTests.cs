using System.Net;
using System.Net.NetworkInformation;
using Router.Actors.Delivery;

namespace Router.Actors.Tests.Delivery;

/// <summary>Which address and port reach this router's own listeners (RFC 5321 s5.1 loop check).</summary>
public sealed class SelfEndpointsTests
{
    private static IPEndPoint At(string endpoint) => IPEndPoint.Parse(endpoint);

    [Fact]
    public void A_listener_is_its_own_address_and_port_only()
    {
        var self = new SelfEndpoints([At("127.0.0.7:2525")]);

        Assert.True(self.Contains(IPAddress.Parse("127.0.0.7"), 2525));
        Assert.True(self.Contains(IPAddress.Parse("::ffff:127.0.0.7"), 2525));
        Assert.False(self.Contains(IPAddress.Parse("127.0.0.7"), 25));
        Assert.False(self.Contains(IPAddress.Parse("127.0.0.8"), 2525));
    }

    [Fact]
    public void A_wildcard_listener_is_every_address_of_this_machine_on_its_port()
    {
        var self = new SelfEndpoints([At("0.0.0.0:25")]);
        var interfaces = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Where(a => !IPAddress.IsLoopback(a))
            .ToArray();

        Assert.True(self.Contains(IPAddress.Parse("127.0.0.1"), 25));
        Assert.True(self.Contains(IPAddress.Parse("127.9.9.9"), 25));
        Assert.All(interfaces, a => Assert.True(self.Contains(a, 25), $"{a} is an address of this machine"));
        Assert.All(interfaces, a => Assert.False(self.Contains(a, 587)));
        var foreign = IPAddress.Parse("198.51.100.77"); // TEST-NET-2
        Assert.DoesNotContain(foreign, interfaces);
        Assert.False(self.Contains(foreign, 25));
    }
}
