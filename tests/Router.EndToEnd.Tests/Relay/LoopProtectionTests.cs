using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// A message that has already passed through too many hops is refused with 554 5.4.6 instead
/// of being relayed once more (RFC 5321 s6.3: count Received headers to break mail loops).
/// The router under test allows <see cref="RelayWorldFixture.MaxReceivedHeaders"/>.
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class LoopProtectionTests(RelayWorldFixture world)
{
    private static byte[] WithHops(string token, int hops)
    {
        var trace = new StringBuilder();
        for (var i = 0; i < hops; i++)
            trace.Append($"Received: from hop{i}.remote.test by hop{i + 1}.remote.test with ESMTP id h{i}; Sun, 29 Nov 2026 15:00:0{i % 10} +0000\r\n");
        return [.. Encoding.ASCII.GetBytes(trace.ToString()), .. TestMessages.Create(token, "user@trusted.relay.test")];
    }

    [Fact]
    public async Task Message_with_more_Received_headers_than_the_limit_is_refused_554_5_4_6()
    {
        var token = TestMessages.NewToken();
        await using var c = await world.Router.ConnectEhloAsync();
        var reply = await TestMessages.SendAsync(c, WithHops(token, RelayWorldFixture.MaxReceivedHeaders + 1), "alice@example.test", ["user@trusted.relay.test"], final: "554");

        Assert.Equal("5.4.6", reply.EnhancedCode);
        // The session goes on: the next transaction is accepted and relayed; the looping one never is.
        var next = TestMessages.NewToken();
        await TestMessages.SendAsync(c, WithHops(next, 1), "alice@example.test", ["user@trusted.relay.test"]);
        var sink = world.Sink("trusted");
        await Eventually.TrueAsync(() => sink.MessagesWith(next).Length > 0, TimeSpan.FromSeconds(20), () => $"sink stats {sink.Stats}");
        Assert.Empty(sink.MessagesWith(token));
    }

    [Fact]
    public async Task Message_with_fewer_Received_headers_than_the_limit_is_relayed()
    {
        var token = TestMessages.NewToken();
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, WithHops(token, RelayWorldFixture.MaxReceivedHeaders - 2), "alice@example.test", ["user@trusted.relay.test"]);
        }

        var sink = world.Sink("trusted");
        await Eventually.TrueAsync(() => sink.MessagesWith(token).Length > 0, TimeSpan.FromSeconds(20), () => $"sink stats {sink.Stats}");
    }
}
