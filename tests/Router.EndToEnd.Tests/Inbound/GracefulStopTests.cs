using System.Net;
using System.Net.Sockets;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>SIGTERM drains: the listener lets go of the port at once, a transaction in flight finishes with 250, then the process exits 0.</summary>
public sealed class GracefulStopTests
{
    [Fact]
    public async Task Sigterm_mid_transaction_completes_it_refuses_new_connections_and_exits()
    {
        // A grace far longer than the test, so only the drain logic decides when the session ends.
        using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = "router.shutdown-grace = 120s" });
        try
        {
            await DrainAsync(router);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"{e}\nrouter output:\n{router.Output}");
        }
    }

    private static async Task DrainAsync(RouterProcess router)
    {
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token, to: "alice@example.test");
        var half = message.Length / 2;

        await using var c = await router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(message.AsMemory(0, half));

        await router.SignalTerminateAsync();
        await router.WaitForOutputAsync("router: stopping", TimeSpan.FromSeconds(15));
        // While our transaction is still open, the port stops accepting.
        await Eventually.UntilAsync(async () => !await CanConnectAsync(router.Port), TimeSpan.FromSeconds(15), "new connections to be refused");
        Assert.False(router.HasExited, "the router exited before the transaction in flight finished");

        await c.SendAsync(message.AsMemory(half));
        await c.SendAsync(".\r\n");
        await c.ExpectAsync("250 2.0.0");
        await c.ExpectAsync("421 4.3.2");
        await c.ExpectClosedAsync();

        Assert.Equal(0, await router.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(message, Assert.Single(router.Mailbox("alice@example.test").NewMessagesContaining(token)));
        Assert.False(await CanConnectAsync(router.Port), "a connection was accepted after the router exited");
    }

    private static async Task<bool> CanConnectAsync(int port)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork);
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        // A connection that reached the backlog just before the listener closed is reset, not accepted.
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
        {
            return false;
        }
    }
}
