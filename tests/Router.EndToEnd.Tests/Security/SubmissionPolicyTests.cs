using System.Security.Cryptography;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Security;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// The submission policy (RFC 6409): AUTH before MAIL, senders the user owns, Date and
/// Message-ID added when missing, authenticated relaying, and DKIM signatures (RFC 6376) on
/// what leaves.
/// </summary>
[Collection(SecurityRouterCollection.Name)]
public sealed class SubmissionPolicyTests(SecurityRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    private async Task<SmtpClient> AuthenticatedAsync(string user, string password)
    {
        var client = await SecureClients.MailKitAsync(fixture.SubmissionPort, SecureSocketOptions.StartTls);
        await client.AuthenticateAsync(user, password);
        return client;
    }

    [Theory]
    [InlineData("carol@example.test")]
    [InlineData("alice@remote.test")]
    [InlineData("alice@example.test.evil.test")]
    public async Task Sender_the_user_does_not_own_gets_553_5_7_1(string sender)
    {
        using var client = await AuthenticatedAsync("alice@example.test", SecurityRouterFixture.AlicePassword);
        var error = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            client.SendAsync(SecureClients.Message(sender, "demo@example.test", TestMessages.NewToken())));
        Assert.Equal(553, (int)error.StatusCode);
        Assert.Contains("5.7.1", error.Message + error.ErrorCode, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bob@example.test")]
    [InlineData("anyone@bob.test")]
    public async Task Sender_login_map_entries_are_honoured(string sender)
    {
        var token = TestMessages.NewToken();
        using (var client = await AuthenticatedAsync("bob", SecurityRouterFixture.BobPassword))
        {
            await client.SendAsync(SecureClients.Message(sender, "demo@example.test", token));
            await client.DisconnectAsync(true);
        }
        Assert.Single(_router.FilesContaining(token));
    }

    [Fact]
    public async Task User_without_a_map_entry_owns_only_its_own_name()
    {
        using var client = await AuthenticatedAsync("bob", SecurityRouterFixture.BobPassword);
        var error = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            client.SendAsync(SecureClients.Message("alice@example.test", "demo@example.test", TestMessages.NewToken())));
        Assert.Equal(553, (int)error.StatusCode);
    }

    [Fact]
    public async Task Missing_Date_and_Message_ID_are_added_on_submission()
    {
        var token = TestMessages.NewToken();
        await using (var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort))
        {
            var plain = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("\0alice@example.test\0" + SecurityRouterFixture.AlicePassword));
            await dialog.CommandAsync("AUTH PLAIN " + plain, "235");
            await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "250");
            await dialog.CommandAsync("RCPT TO:<demo@example.test>", "250");
            await dialog.CommandAsync("DATA", "354");
            await dialog.CommandAsync($"From: alice@example.test\r\nTo: demo@example.test\r\nSubject: {token}\r\n\r\nno date, no id\r\n.", "250");
        }
        var stored = MimeMessage.Load(Assert.Single(_router.FilesContaining(token)));
        Assert.False(string.IsNullOrEmpty(stored.MessageId));
        Assert.EndsWith("@mx.router.test", stored.MessageId, StringComparison.Ordinal);
        Assert.NotNull(stored.Headers[HeaderId.Date]);
        Assert.True(Math.Abs((stored.Date - DateTimeOffset.Now).TotalMinutes) < 10, stored.Headers[HeaderId.Date]);
    }

    [Fact]
    public async Task Submitted_message_without_header_fields_gets_Date_and_Message_ID_then_an_empty_line()
    {
        var token = TestMessages.NewToken();
        var message = $"just a body line {token}.\r\n";
        await SubmitAsync(message, "demo@example.test");

        var stored = MaildirView.StripTrace(await File.ReadAllBytesAsync(Assert.Single(_router.FilesContaining(token))));
        Assert.Matches(@"\A" + AddedFieldsThen(message), System.Text.Encoding.ASCII.GetString(stored));
    }

    [Fact]
    public async Task Relayed_and_local_copies_of_a_message_starting_with_a_tab_have_it_in_the_body()
    {
        var token = TestMessages.NewToken();
        var message = $"\t(authenticated sender: ceo@example.test)\r\nFrom: alice@example.test\r\nSubject: {token}\r\n\r\nx\r\n";
        await SubmitAsync(message, "demo@example.test", "friend@remote.test");

        var local = MaildirView.StripTrace(await File.ReadAllBytesAsync(Assert.Single(_router.FilesContaining(token))));
        Assert.Matches(@"\A" + AddedFieldsThen(message), System.Text.Encoding.ASCII.GetString(local));
        await fixture.Sink.WaitUntilAsync(_ => fixture.Sink.Messages.Any(m => Contains(m.Data, token)), TimeSpan.FromSeconds(30));
        var relayed = System.Text.Encoding.ASCII.GetString(fixture.Sink.Messages.First(m => Contains(m.Data, token)).Data);
        // The relayed copy is the local one without Return-Path and Delivered-To (and, with no From field to sign, no DKIM-Signature).
        Assert.Matches(@"\AReceived: [^\r\n]*\r\n(?:\t[^\r\n]*\r\n)*" + AddedFieldsThen(message), relayed);
    }

    /// <summary>Alice submits <paramref name="message"/> (raw DATA content) to <paramref name="recipients"/>.</summary>
    private async Task SubmitAsync(string message, params string[] recipients)
    {
        await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort);
        var plain = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("\0alice@example.test\0" + SecurityRouterFixture.AlicePassword));
        await dialog.CommandAsync("AUTH PLAIN " + plain, "235");
        await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "250");
        foreach (var rcpt in recipients) await dialog.CommandAsync($"RCPT TO:<{rcpt}>", "250");
        await dialog.CommandAsync("DATA", "354");
        await dialog.CommandAsync(message + ".", "250");
    }

    /// <summary>A pattern: the Date and Message-ID submission adds, the empty line, then <paramref name="body"/> to the end.</summary>
    private static string AddedFieldsThen(string body) =>
        @"Date: [^\r\n]+\r\nMessage-ID: <[^\r\n>]+@mx\.router\.test>\r\n\r\n" + System.Text.RegularExpressions.Regex.Escape(body) + @"\z";

    [Fact]
    public async Task Existing_Message_ID_is_kept()
    {
        var token = TestMessages.NewToken();
        var message = SecureClients.Message("alice@example.test", "demo@example.test", token);
        message.MessageId = token + "@client.test";
        using (var client = await AuthenticatedAsync("alice@example.test", SecurityRouterFixture.AlicePassword))
        {
            await client.SendAsync(message);
            await client.DisconnectAsync(true);
        }
        var stored = MimeMessage.Load(Assert.Single(_router.FilesContaining(token)));
        Assert.Equal(token + "@client.test", stored.MessageId);
        Assert.Single(stored.Headers, h => h.Id == HeaderId.MessageId);
    }

    [Fact]
    public async Task Authenticated_user_relays_and_the_message_leaves_with_a_valid_DKIM_signature()
    {
        var token = TestMessages.NewToken();
        var message = SecureClients.Message("alice@example.test", "friend@remote.test", token);
        using (var client = await AuthenticatedAsync("alice@example.test", SecurityRouterFixture.AlicePassword))
        {
            await client.SendAsync(message);
            await client.DisconnectAsync(true);
        }
        await fixture.Sink.WaitUntilAsync(_ => fixture.Sink.Messages.Any(m => Contains(m.Data, token)), TimeSpan.FromSeconds(30));
        var relayed = fixture.Sink.Messages.First(m => Contains(m.Data, token));

        var received = MimeMessage.Load(new MemoryStream(relayed.Data));
        var index = received.Headers.IndexOf(HeaderId.DkimSignature);
        Assert.True(index >= 0, "no DKIM-Signature in:\n" + System.Text.Encoding.UTF8.GetString(relayed.Data));
        var signature = received.Headers[index];
        Assert.Contains("d=example.test", signature.Value, StringComparison.Ordinal);
        Assert.Contains("s=s1", signature.Value, StringComparison.Ordinal);
        Assert.Contains("c=relaxed/relaxed", signature.Value, StringComparison.Ordinal);

        var verifier = new DkimVerifier(new SingleKeyLocator(fixture.DkimKey));
        Assert.True(await verifier.VerifyAsync(received, signature), "the DKIM signature does not verify");

        // A changed body no longer verifies: the check is real.
        var tampered = MimeMessage.Load(new MemoryStream(relayed.Data));
        ((TextPart)tampered.Body!).Text = "changed";
        Assert.False(await verifier.VerifyAsync(tampered, tampered.Headers[tampered.Headers.IndexOf(HeaderId.DkimSignature)]));
    }

    private static bool Contains(byte[] data, string token) => data.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(token)) >= 0;

    /// <summary>Answers every DNS key lookup with the test key (as the TXT record s1._domainkey.example.test would).</summary>
    private sealed class SingleKeyLocator(RSA key) : DkimPublicKeyLocatorBase
    {
        private readonly AsymmetricKeyParameter _key = DotNetUtilities.GetRsaPublicKey(key);

        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) => _key;

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(_key);
    }
}
