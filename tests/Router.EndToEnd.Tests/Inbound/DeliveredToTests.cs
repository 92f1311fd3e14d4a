using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// The Delivered-To line of a Maildir file names the address as it reached final delivery, as
/// Postfix's local(8) writes it: the recipient with its address extension, or, for an alias, the
/// address the alias expanded to.
/// </summary>
public sealed class DeliveredToTests(DeliveredToTests.Fixture fixture) : IClassFixture<DeliveredToTests.Fixture>
{
    private readonly RouterProcess _router = fixture.Router;

    public sealed class Fixture : RouterFixture
    {
        protected override RouterOptions Options => new()
        {
            Aliases = new Dictionary<string, string[]>
            {
                ["postmaster@example.test"] = ["carol@example.test"],
                ["team@example.test"] = ["alice+team@example.test", "bob@example.test"],
            },
        };
    }

    [Fact]
    public async Task Delivered_To_keeps_the_address_extension()
    {
        var token = TestMessages.NewToken();
        await SendAsync(token, "alice+lists@example.test");

        Assert.Equal("alice+lists@example.test", await DeliveredToAsync("alice@example.test", token));
    }

    [Fact]
    public async Task Delivered_To_of_an_alias_is_the_address_it_expands_to()
    {
        var token = TestMessages.NewToken();
        await SendAsync(token, "team@example.test");

        Assert.Equal("alice+team@example.test", await DeliveredToAsync("alice@example.test", token));
        Assert.Equal("bob@example.test", await DeliveredToAsync("bob@example.test", token));
    }

    /// <summary>MailKit sends a message with <paramref name="token"/> to the one envelope recipient <paramref name="rcpt"/>.</summary>
    private async Task SendAsync(string token, string rcpt)
    {
        var message = new MimeMessage { Subject = $"Delivered-To {token}", Body = new TextPart("plain") { Text = $"Hello {token}\r\n" } };
        message.From.Add(MailboxAddress.Parse("sender@remote.test"));
        message.To.Add(MailboxAddress.Parse(rcpt));
        using var client = new SmtpClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync("127.0.0.1", _router.Port, SecureSocketOptions.None, cts.Token);
        await client.SendAsync(message, MailboxAddress.Parse("sender@remote.test"), [MailboxAddress.Parse(rcpt)], cts.Token);
        await client.DisconnectAsync(quit: true, cts.Token);
    }

    /// <summary>The Delivered-To value of the one file in <paramref name="mailbox"/>'s new/ that holds <paramref name="token"/>.</summary>
    private async Task<string> DeliveredToAsync(string mailbox, string token)
    {
        var file = Assert.Single(_router.FilesContaining(token), f => f.StartsWith(_router.Mailbox(mailbox).Path + "/new/", StringComparison.Ordinal));
        var trace = MaildirView.TraceOf(await File.ReadAllBytesAsync(file));
        var line = Assert.Single(trace.Split("\r\n"), l => l.StartsWith("Delivered-To: ", StringComparison.Ordinal));
        return line["Delivered-To: ".Length..];
    }
}
