using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// A client that pipelines commands and never reads the replies (its receive window stays shut)
/// blocks the router's writes. Its session times out like a silent one, and its socket is closed
/// soon after, whether the last replies left or not: the descriptor, which the connection limits
/// no longer count once the session is over, must not outlive it (Postfix writes with a timeout,
/// then closes).
/// </summary>
public sealed class UnreadRepliesTests(UnreadRepliesTests.Fixture fixture) : IClassFixture<UnreadRepliesTests.Fixture>
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(2);
    private readonly RouterProcess _router = fixture.Router;

    public sealed class Fixture : RouterFixture
    {
        protected override RouterOptions Options => new()
        {
            TrustedNetworks = ["10.0.0.0/8"],
            IdleTimeout = IdleTimeout,
        };
    }

    [Fact]
    public async Task Socket_of_a_client_that_never_reads_its_replies_is_closed_soon_after_its_idle_timeout()
    {
        // 100,000 EHLOs ask for about 19 MB of replies, far more than the kernel buffers of both
        // sides hold: the router's writes block. The send itself blocks too, and is left pending.
        var flood = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("EHLO client.example\r\n", 100_000)));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        client.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.61"), 0));
        await client.ConnectAsync(_router.EndPoint);
        var sending = client.SendAsync(flood, SocketFlags.None);
        var clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        var inode = await Eventually.ValueAsync(() => ServerSocketInode(clientPort), TimeSpan.FromSeconds(10), () => $"no socket of the router's from port {clientPort}");
        await Eventually.TrueAsync(() => RouterHolds(inode), TimeSpan.FromSeconds(10), () => $"the router holds no descriptor of socket:[{inode}]");

        await _router.WaitForOutputAsync("timeout after EHLO from unknown[127.0.0.61]", TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(() => !RouterHolds(inode), IdleTimeout + TimeSpan.FromSeconds(10),
            () => $"the router still holds socket:[{inode}] of the timed-out session: {TcpLine(clientPort)}");

        // The client sees the end of the connection once it reads: what was sent, then EOF or a reset.
        client.ReceiveBufferSize = 1 << 20;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[1 << 16];
        try
        {
            while (await client.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        // The flood may still be pending, or have failed with the reset: either way it is over.
        _ = sending.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>The inode of the router's end of the connection from <paramref name="clientPort"/>, from /proc/net/tcp; null while there is none.</summary>
    private string? ServerSocketInode(int clientPort) => TcpLine(clientPort)?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[9] is { } inode && inode != "0" ? inode : null;

    /// <summary>The /proc/net/tcp line of local 127.0.0.1:router port, remote 127.0.0.61:<paramref name="clientPort"/>.</summary>
    private string? TcpLine(int clientPort)
    {
        var local = "0100007F:" + _router.Port.ToString("X4", CultureInfo.InvariantCulture);
        var remote = "3D00007F:" + clientPort.ToString("X4", CultureInfo.InvariantCulture);
        return File.ReadLines($"/proc/{_router.Pid}/net/tcp")
            .Skip(1)
            .FirstOrDefault(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var l1, var r1, ..] && l1 == local && r1 == remote);
    }

    /// <summary>True while one of the router's descriptors is that socket.</summary>
    private bool RouterHolds(string inode)
    {
        var target = $"socket:[{inode}]";
        foreach (var fd in Directory.EnumerateFiles($"/proc/{_router.Pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == target) return true;
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }
        return false;
    }
}
