using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// The fields Router puts on top of a Maildir file (Return-Path, Delivered-To, Received) stay its
/// own, whatever the client's message starts with: a client's Return-Path is dropped, also in
/// the obsolete form with whitespace before the colon (RFC 5322 s4.5).
/// </summary>
[Collection(InboundRouterCollection.Name)]
public sealed class HeaderFramingTests(InboundRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Client_Return_Path_with_whitespace_before_the_colon_is_dropped()
    {
        var token = TestMessages.NewToken();
        var file = await DeliverAsync($"Return-Path : <forged@evil.test>\r\nSubject: {token}\r\n\r\nx\r\n");

        Assert.Equal($"Subject: {token}\r\n\r\nx\r\n", Encoding.ASCII.GetString(MaildirView.StripTrace(file)));
        Assert.DoesNotContain("forged", Encoding.ASCII.GetString(file), StringComparison.Ordinal);
    }

    /// <summary>Sends <paramref name="message"/> from a@remote.test to alice@example.test and returns the one Maildir file it became.</summary>
    private async Task<byte[]> DeliverAsync(string message)
    {
        string queueId;
        await using (var c = await _router.ConnectEhloAsync())
        {
            queueId = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, Encoding.ASCII.GetBytes(message), "a@remote.test", ["alice@example.test"]));
        }
        var path = Assert.Single(_router.FilesContaining(queueId));
        var file = await File.ReadAllBytesAsync(path);
        Assert.EndsWith($",S={file.Length}", Path.GetFileName(path), StringComparison.Ordinal);
        return file;
    }
}
