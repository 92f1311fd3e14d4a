using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// Never an open relay: a client that is neither trusted (127.0.0.2 while only 127.0.0.1/32 is)
/// nor authenticated reaches local domains only, whatever address trick it tries (the % hack,
/// source routes, bang paths, quoted @, trailing dots, address literals).
/// </summary>
[Collection(SecurityRouterCollection.Name)]
public sealed class OpenRelayTests(SecurityRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Theory]
    [InlineData("<friend@remote.test>")]
    [InlineData("<FRIEND@REMOTE.TEST>")]
    [InlineData("<friend%remote.test@example.test>")]
    [InlineData("<@example.test:friend@remote.test>")]
    [InlineData("<@example.test,@mx.router.test:friend@remote.test>")]
    [InlineData("<remote.test!friend@example.test>")]
    [InlineData("<\"friend@remote.test\"@example.test>")]
    [InlineData("<friend@remote.test@example.test>")]
    [InlineData("<friend@example.test.>")]
    [InlineData("<friend@example.test.remote.test>")]
    [InlineData("<friend@[127.0.0.1]>")]
    [InlineData("<friend@remote.test> NOTIFY=NEVER")]
    [InlineData("friend@remote.test")]
    public async Task Untrusted_unauthenticated_client_cannot_relay(string recipient)
    {
        await using var dialog = await SmtpDialog.ConnectAsync(_router.Port, SecurityRouterFixture.Untrusted);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO relay-tester.test", "250");
        await dialog.CommandAsync("MAIL FROM:<spammer@remote.test>", "250");
        await dialog.SendLineAsync("RCPT TO:" + recipient);
        var reply = await dialog.ReadReplyAsync();
        Assert.True(reply.Code is 554 or 550 or 501 or 553 or 555, $"RCPT TO:{recipient} got {reply}");
        if (reply.Code == 554) Assert.Equal("5.7.1", reply.EnhancedCode);
        await dialog.CommandAsync("DATA", "503");
    }

    [Fact]
    public async Task Untrusted_client_still_reaches_a_local_mailbox()
    {
        var token = TestMessages.NewToken();
        await using var dialog = await SmtpDialog.ConnectAsync(_router.Port, SecurityRouterFixture.Untrusted);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO relay-tester.test", "250");
        await dialog.CommandAsync("MAIL FROM:<someone@remote.test>", "250");
        await dialog.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await dialog.CommandAsync("DATA", "354");
        await dialog.CommandAsync($"Subject: {token}\r\n\r\nhello\r\n.", "250");
        Assert.Single(_router.FilesContaining(token));
    }

    [Fact]
    public async Task Unauthenticated_client_on_the_submission_port_cannot_even_start_a_transaction()
    {
        await using var dialog = await SmtpDialog.ConnectAsync(fixture.SubmissionPort, SecurityRouterFixture.Untrusted);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO relay-tester.test", "250");
        await dialog.CommandAsync("MAIL FROM:<spammer@remote.test>", "530 5.7.0");
        await dialog.CommandAsync("RCPT TO:<friend@remote.test>", "503");
    }
}
