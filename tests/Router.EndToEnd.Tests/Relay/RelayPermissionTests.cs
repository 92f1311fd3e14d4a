using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>Only clients in router.relay.trusted-networks may relay; everyone may reach the local domains (never an open relay).</summary>
[Collection(RelayWorldCollection.Name)]
public sealed class RelayPermissionTests(RelayWorldFixture world)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Trusted_client_relays_to_a_remote_domain()
    {
        var token = TestMessages.NewToken();
        await using var c = await world.Router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, TestMessages.Create(token, "user@trusted.relay.test"), "alice@example.test", ["user@trusted.relay.test"]);

        var sink = world.Sink("trusted");
        await Eventually.TrueAsync(() => sink.MessagesWith(token).Length == 1, Deadline, () => $"sink stats {sink.Stats}");
        var received = Assert.Single(sink.MessagesWith(token));
        Assert.Equal("alice@example.test", received.ReversePath);
        Assert.Equal(["user@trusted.relay.test"], received.Recipients);
    }

    [Fact]
    public async Task Untrusted_client_is_refused_554_5_7_1_for_a_remote_domain()
    {
        await using var c = await world.Untrusted.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<someone@remote.test>", "250");
        var reply = await c.CommandAsync("RCPT TO:<user@trusted.relay.test>", "554");
        Assert.Equal("5.7.1", reply.EnhancedCode);
    }

    [Fact]
    public async Task Untrusted_client_still_reaches_a_local_mailbox()
    {
        var token = TestMessages.NewToken();
        await using var c = await world.Untrusted.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<someone@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<user@trusted.relay.test>", "554 5.7.1");
        await c.CommandAsync("RCPT TO:<bob@example.test>", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token, "bob@example.test"));
        await c.SendAsync(".\r\n");
        await c.ExpectAsync("250");

        Assert.Single(world.Untrusted.Mailbox("bob@example.test").NewMessagesContaining(token));
        Assert.Empty(world.Sink("trusted").MessagesWith(token));
    }
}
