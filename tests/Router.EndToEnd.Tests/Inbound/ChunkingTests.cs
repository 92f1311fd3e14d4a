using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>CHUNKING (RFC 3030): BDAT chunks are taken as they are, with no dot handling, and delivered byte for byte.</summary>
[Collection(InboundRouterCollection.Name)]
public sealed class ChunkingTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Bdat_chunks_then_bdat_0_last_deliver_the_exact_bytes()
    {
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token, body: ".a line with a leading dot\r\n.\r\nend\r\n");
        // Split inside a CRLF, so the chunk boundary falls between CR and LF.
        var cut = Array.IndexOf(message, (byte)'\n') - 1;
        var first = message[..(cut + 1)];
        var second = message[(cut + 1)..];
        Assert.Equal((byte)'\r', first[^1]);

        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await c.SendAsync(Encoding.ASCII.GetBytes($"BDAT {first.Length}\r\n").Concat(first).ToArray());
        await c.ExpectAsync("250");
        await c.SendAsync(Encoding.ASCII.GetBytes($"BDAT {second.Length}\r\n").Concat(second).ToArray());
        await c.ExpectAsync("250");
        await c.CommandAsync("BDAT 0 LAST", "250 2.0.0");

        Assert.Equal(message, Assert.Single(_router.Mailbox("alice@example.test").NewMessagesContaining(token)));
    }

    [Fact]
    public async Task Bdat_last_in_a_single_chunk_is_delivered()
    {
        var token = TestMessages.NewToken();
        var message = TestMessages.Create(token);
        await using var c = await _router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<bob@example.test>", "250");
        await c.SendAsync(Encoding.ASCII.GetBytes($"BDAT {message.Length} LAST\r\n").Concat(message).ToArray());
        await c.ExpectAsync("250 2.0.0");
        Assert.Equal(message, Assert.Single(_router.Mailbox("bob@example.test").NewMessagesContaining(token)));
    }
}
