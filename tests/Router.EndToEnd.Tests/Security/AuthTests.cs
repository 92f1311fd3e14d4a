using System.Net;
using System.Text;
using MailKit.Security;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>SMTP AUTH (RFC 4954): PLAIN and LOGIN under TLS only, failures answered 535 and rate-limited per client.</summary>
[Collection(SecurityRouterCollection.Name)]
public sealed class AuthTests(SecurityRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    private static string Plain(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    public async Task MailKit_submits_after_STARTTLS_and_AUTH(string mechanism)
    {
        var token = TestMessages.NewToken();
        using (var client = await SecureClients.MailKitAsync(fixture.SubmissionPort, SecureSocketOptions.StartTls))
        {
            Assert.Contains(mechanism, client.AuthenticationMechanisms);
            foreach (var other in client.AuthenticationMechanisms.Where(m => m != mechanism).ToArray()) client.AuthenticationMechanisms.Remove(other);
            await client.AuthenticateAsync("alice@example.test", SecurityRouterFixture.AlicePassword);
            await client.SendAsync(SecureClients.Message("alice@example.test", "demo@example.test", token));
            await client.DisconnectAsync(true);
        }
        var file = Assert.Single(_router.FilesContaining(token));
        Assert.Contains(" with ESMTPSA id ", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Swaks_submits_with_TLS_and_AUTH_PLAIN()
    {
        var token = TestMessages.NewToken();
        var (exit, output) = await SecureClients.RunAsync("/usr/bin/swaks", null,
            "--server", $"127.0.0.1:{fixture.SubmissionPort}", "--tls", "--auth", "PLAIN",
            "--auth-user", "alice@example.test", "--auth-password", SecurityRouterFixture.AlicePassword,
            "--ehlo", "swaks.test", "--from", "alice@example.test", "--to", "demo@example.test",
            "--header", $"Subject: swaks {token}", "--body", $"Body {token}");
        Assert.True(exit == 0, output);
        Assert.Contains("235 2.7.0", output, StringComparison.Ordinal);
        Assert.Single(_router.FilesContaining(token));
    }

    [Fact]
    public async Task Wrong_password_gets_535_5_7_8()
    {
        using var client = await SecureClients.MailKitAsync(fixture.SubmissionPort, SecureSocketOptions.StartTls, IPAddress.Parse("127.0.0.11"));
        var error = await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync("alice@example.test", "not-her-password"));
        Assert.Contains("5.7.8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AUTH_before_TLS_gets_538_5_7_11_and_is_not_offered()
    {
        await using var dialog = await SmtpDialog.ConnectAsync(fixture.SubmissionPort);
        await dialog.ExpectAsync("220");
        var ehlo = await dialog.CommandAsync("EHLO client.test", "250");
        Assert.DoesNotContain(ehlo.Lines, l => l.Contains("AUTH", StringComparison.Ordinal));
        await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", SecurityRouterFixture.AlicePassword), "538 5.7.11");
        await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "530 5.7.0");
    }

    [Fact]
    public async Task AUTH_exchange_with_continuation_and_cancel()
    {
        await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort);
        await dialog.CommandAsync("AUTH PLAIN", "334");
        await dialog.CommandAsync("*", "501 5.0.0");
        await dialog.CommandAsync("AUTH LOGIN", "334 VXNlcm5hbWU6");
        await dialog.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes("bob")), "334 UGFzc3dvcmQ6");
        await dialog.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(SecurityRouterFixture.BobPassword)), "235 2.7.0");
        await dialog.CommandAsync("AUTH PLAIN " + Plain("bob", SecurityRouterFixture.BobPassword), "503 5.5.1");
    }

    [Fact]
    public async Task Undecodable_response_and_unknown_mechanism_are_refused()
    {
        await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort);
        await dialog.CommandAsync("AUTH CRAM-MD5", "504 5.5.4");
        await dialog.CommandAsync("AUTH PLAIN !!!notbase64", "501 5.5.2");
    }

    [Fact]
    public async Task Acting_as_another_user_gets_535_5_7_8_even_with_the_right_password()
    {
        // RFC 4954 s6: an authorization failure is 535, not the 501 of an undecodable response.
        await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, IPAddress.Parse("127.0.0.16"));
        var asBob = Convert.ToBase64String(Encoding.UTF8.GetBytes($"bob\0alice@example.test\0{SecurityRouterFixture.AlicePassword}"));
        await dialog.CommandAsync("AUTH PLAIN " + asBob, "535 5.7.8");
        await dialog.CommandAsync("MAIL FROM:<bob@example.test>", "530 5.7.0");
        await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", SecurityRouterFixture.AlicePassword), "235 2.7.0");
    }

    [Fact]
    public async Task AUTH_response_lines_are_taken_up_to_12288_octets()
    {
        await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, IPAddress.Parse("127.0.0.14"));
        // RFC 4954 s4: a response is not bound by the command line length; 12288 octets suffice.
        var longPassword = Plain("bob", SecurityRouterFixture.BobPassword + new string('p', 6000));
        Assert.InRange(longPassword.Length, 2049, 12288 - 2);
        await dialog.CommandAsync("AUTH PLAIN", "334");
        await dialog.CommandAsync(longPassword, "535 5.7.8"); // decoded and checked: only the password is wrong
        await dialog.CommandAsync("AUTH PLAIN", "334");
        await dialog.CommandAsync(new string('A', 12288 - 2 + 4), "500 5.5.6");
        await dialog.CommandAsync("AUTH PLAIN", "334");
        await dialog.CommandAsync(Plain("bob", SecurityRouterFixture.BobPassword), "235 2.7.0");
    }

    [Fact]
    public async Task Repeated_failures_are_delayed_then_end_in_421_4_7_0()
    {
        var from = IPAddress.Parse("127.0.0.12");
        await using (var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, from))
        {
            for (var i = 1; i < SecurityRouterFixture.MaxAuthFailures; i++)
                await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", "wrong" + i), "535 5.7.8");
            await dialog.SendAsync("AUTH PLAIN " + Plain("alice@example.test", "wrong-again") + "\r\n");
            var rest = await dialog.ReadToCloseAsync();
            Assert.Contains("535 5.7.8", rest, StringComparison.Ordinal);
            Assert.Contains("421 4.7.0", rest, StringComparison.Ordinal);
        }

        // That user stays locked out from that address for the window, even with the right password...
        await using (var again = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, from))
        {
            await again.SendAsync("AUTH PLAIN " + Plain("alice@example.test", SecurityRouterFixture.AlicePassword) + "\r\n");
            Assert.StartsWith("535 5.7.8", await again.ReadToCloseAsync(), StringComparison.Ordinal);
        }

        // ...but another user behind the same address (one office, one NAT) is not.
        await using var colleague = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, from);
        await colleague.CommandAsync("AUTH PLAIN " + Plain("bob", SecurityRouterFixture.BobPassword), "235 2.7.0");
    }

    [Fact]
    public async Task Guessing_across_many_user_names_cuts_the_address_off()
    {
        var from = IPAddress.Parse("127.0.0.15");
        var limit = SecurityRouterFixture.MaxAuthFailures * Router.Actors.Smtp.ClientLimits.AddressFailureFactor;
        for (var i = 0; i < limit; i++)
        {
            await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, from);
            await dialog.CommandAsync("AUTH PLAIN " + Plain($"user{i}@example.test", "guess"), "535 5.7.8");
        }

        await using var cut = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, from);
        await cut.SendAsync("AUTH PLAIN " + Plain("bob", SecurityRouterFixture.BobPassword) + "\r\n");
        Assert.StartsWith("421 4.7.0", await cut.ReadToCloseAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Passwords_never_reach_the_log()
    {
        await using (var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, IPAddress.Parse("127.0.0.13")))
        {
            await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", "Leaky-Password-77"), "535");
            await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", SecurityRouterFixture.AlicePassword), "235");
        }
        await _router.WaitForOutputAsync("authenticated as alice@example.test", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("Leaky-Password-77", _router.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(SecurityRouterFixture.AlicePassword, _router.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Plain("alice@example.test", SecurityRouterFixture.AlicePassword), _router.Output, StringComparison.Ordinal);
    }
}
