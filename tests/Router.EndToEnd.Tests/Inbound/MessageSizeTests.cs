using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>SIZE (RFC 1870): a declared size over the limit is refused at MAIL; a body over it at the end of DATA, leaving no file behind.</summary>
[Collection(InboundRouterCollection.Name)]
public sealed class MessageSizeTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Declared_size_over_the_limit_is_552_5_3_4()
    {
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test> SIZE=999999999", "552 5.3.4");
        await c.CommandAsync($"MAIL FROM:<a@remote.test> SIZE={InboundRouterFixture.MaxMessageSize}", "250");
    }

    [Fact]
    public async Task Body_over_the_limit_is_552_and_leaves_nothing_in_new_or_tmp()
    {
        var token = TestMessages.NewToken();
        var line = new string('x', 98) + "\r\n";
        var body = new StringBuilder();
        while (body.Length <= InboundRouterFixture.MaxMessageSize) body.Append(line);
        await using var c = await _router.ConnectEhloAsync();
        await TestMessages.SendAsync(c, TestMessages.Create(token, body: body.ToString()), "a@remote.test", ["alice@example.test"], final: "552 5.3.4");

        Assert.Empty(_router.FilesContaining(token));
        await _router.Mailbox("alice@example.test").TmpEmptiesAsync();
        // The session is still usable.
        await c.CommandAsync("NOOP", "250");
    }
}
