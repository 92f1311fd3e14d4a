using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// The fields Router puts on top of a Maildir file (Return-Path, Delivered-To, Received) stay its
/// own, whatever the client's message starts with. A message that does not begin with a header
/// field is all body, after an empty line (RFC 5322 s2.1): a first line starting with a TAB does
/// not fold into Router's Received field, a body line does not land in the header section. A
/// client's Return-Path is dropped, also in the obsolete form with whitespace before the colon (s4.5).
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

    [Fact]
    public async Task First_line_starting_with_a_tab_is_body_not_a_continuation_of_Received()
    {
        var token = TestMessages.NewToken();
        var message = $"\t(authenticated sender: ceo@example.test) by mx.router.test (Router) with ESMTPSA id X\r\nSubject: {token}\r\n\r\nx\r\n";
        var file = await DeliverAsync(message);

        Assert.Equal("\r\n" + message, Encoding.ASCII.GetString(MaildirView.StripTrace(file)));
        Assert.DoesNotContain("authenticated sender", MaildirView.TraceOf(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Message_without_header_fields_is_body_after_an_empty_line()
    {
        var token = TestMessages.NewToken();
        var message = $"just a body line {token}.\r\nSubject: not a field, in the body\r\n";
        var file = await DeliverAsync(message);

        Assert.Equal("\r\n" + message, Encoding.ASCII.GetString(MaildirView.StripTrace(file)));
    }

    [Fact]
    public async Task Empty_message_is_the_added_fields_and_an_empty_line()
    {
        var file = await DeliverAsync("");

        Assert.Equal("\r\n", Encoding.ASCII.GetString(MaildirView.StripTrace(file)));
    }

    [Fact]
    public async Task Message_starting_with_the_empty_line_gets_no_second_one()
    {
        var token = TestMessages.NewToken();
        var message = $"\r\nno header fields {token}\r\n";
        var file = await DeliverAsync(message);

        Assert.Equal(message, Encoding.ASCII.GetString(MaildirView.StripTrace(file)));
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
