using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>One copy per distinct mailbox: repeated recipients and aliases that overlap are delivered once each.</summary>
[Collection(InboundRouterCollection.Name)]
public sealed class RecipientFanOutTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Same_mailbox_twice_gets_one_copy()
    {
        var token = TestMessages.NewToken();
        await using var c = await _router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, TestMessages.Create(token), "a@remote.test", ["alice@example.test", "ALICE@Example.Test"]);
        Assert.Single(_router.FilesContaining(token));
        Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token));
    }

    [Fact]
    public async Task Alias_fans_out_to_one_copy_per_distinct_mailbox()
    {
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token, to: "team@example.test");
        await using var c = await _router.ConnectEhloAsync();
        // team -> alice, bob, alice; plus alice directly.
        await TestMessages.SendAsync(c, message, "a@remote.test", ["team@example.test", "alice@example.test"]);

        Assert.Equal(2, _router.FilesContaining(token).Count);
        Assert.Equal(message, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
        Assert.Equal(message, Assert.Single(_router.Mailbox("bob@example.test").NewMessagesContaining(token)));
    }

    [Fact]
    public async Task Address_extensions_reach_the_mailbox_once_and_an_unknown_user_stays_unknown()
    {
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token, to: "alice+news@example.test");
        await using var c = await _router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, message, "a@remote.test", ["alice+news@example.test", "Alice+Other@example.test", "team+list@example.test"]);

        Assert.Equal(2, _router.FilesContaining(token).Count);
        Assert.Equal(message, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
        Assert.Equal(message, Assert.Single(_router.Mailbox("bob@example.test").NewMessagesContaining(token)));

        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<nobody+news@example.test>", "550 5.1.1");
    }
}
