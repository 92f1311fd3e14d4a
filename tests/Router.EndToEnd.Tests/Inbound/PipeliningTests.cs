using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// PIPELINING (RFC 2920): a whole transaction written at once, or dribbled in pieces cut at random
/// byte boundaries, gets every reply, complete and in order, and the message is delivered once.
/// </summary>
[Collection(InboundRouterCollection.Name)]
public sealed class PipeliningTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Whole_transaction_in_one_write_gets_all_replies_in_order()
    {
        var (token, wire, message) = Transaction();
        await using var c = await _router.ConnectAsync();
        await c.SendAsync(wire);
        await ExpectTransactionReplies(c);
        Assert.Equal(message, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Transaction_split_at_random_byte_boundaries_gets_all_replies_in_order(int seed)
    {
        var (token, wire, message) = Transaction();
        var random = new Random(seed);
        await using var c = await _router.ConnectAsync();
        for (var offset = 0; offset < wire.Length;)
        {
            var n = Math.Min(random.Next(1, 24), wire.Length - offset);
            await c.SendAsync(wire.AsMemory(offset, n));
            offset += n;
        }
        await ExpectTransactionReplies(c);
        Assert.Equal(message, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
    }

    private static (string Token, byte[] Wire, byte[] Message) Transaction()
    {
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token, body: "line one\r\nline two\r\n");
        var wire = Encoding.ASCII.GetBytes("EHLO client.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            .Concat(message)
            .Concat(Encoding.ASCII.GetBytes(".\r\nQUIT\r\n"))
            .ToArray();
        return (token, wire, message);
    }

    private static async Task ExpectTransactionReplies(SmtpDialog c)
    {
        var ehlo = await c.ExpectAsync("250");
        Assert.True(ehlo.Lines.Count > 1, "EHLO reply should list extensions");
        await c.ExpectAsync("250 2.1.0");
        await c.ExpectAsync("250 2.1.5");
        await c.ExpectAsync("354");
        await c.ExpectAsync("250 2.0.0 Ok: queued as");
        await c.ExpectAsync("221 2.0.0");
        await c.ExpectClosedAsync();
    }
}
