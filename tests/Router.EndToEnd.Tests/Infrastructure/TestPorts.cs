using System.Net;
using System.Net.Sockets;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Loopback ports for the servers a test starts (routers, PostgreSQL, Akka endpoints). A port
/// found by binding to 0 lies in the kernel's ephemeral range (32768-60999), where any outgoing
/// connection or any other process binding to 0 may take it before our server binds it (a router
/// once failed "Address already in use" that way). These come from below that range, are handed
/// out once per test run, and are checked free when handed out.
/// </summary>
public static class TestPorts
{
    private const int First = 20000;
    private const int Count = 12000;
    private static readonly int Start = Random.Shared.Next(Count);
    private static int _handedOut;

    public static int Next()
    {
        for (var tries = 0; tries < Count; tries++)
        {
            var port = First + (Start + Interlocked.Increment(ref _handedOut)) % Count;
            if (IsFree(port)) return port;
        }
        throw new InvalidOperationException($"no free loopback port in {First}-{First + Count - 1}");
    }

    private static bool IsFree(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
