using MailKit.Net.Smtp;
using MailKit.Security;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>STARTTLS (RFC 3207) on the MTA and submission ports, and implicit TLS (RFC 8314).</summary>
[Collection(SecurityRouterCollection.Name)]
public sealed class StartTlsTests(SecurityRouterFixture fixture)
{
    private readonly RouterProcess _router = fixture.Router;

    [Fact]
    public async Task Openssl_starttls_sees_the_configured_certificate()
    {
        var (exit, output) = await SecureClients.RunAsync("openssl", "QUIT\n",
            "s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{fixture.SubmissionPort}", "-brief");
        Assert.True(exit == 0, output);
        Assert.Contains($"CN = {SecurityMaterial.CertificateSubject}", output, StringComparison.Ordinal);
        Assert.Matches("Protocol version: TLSv1\\.[23]", output);
    }

    [Fact]
    public async Task TLS_1_1_is_refused()
    {
        var (exit, output) = await SecureClients.RunAsync("openssl", "QUIT\n",
            "s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{_router.Port}", "-tls1_1", "-brief");
        Assert.True(exit != 0, output);
    }

    [Fact]
    public async Task EHLO_offers_STARTTLS_before_TLS_and_AUTH_only_under_TLS()
    {
        await using var dialog = await TlsDialog.ConnectAsync(fixture.SubmissionPort);
        await dialog.ExpectAsync("220");
        var plain = await dialog.CommandAsync("EHLO client.test", "250");
        Assert.Contains(plain.Lines, l => l.EndsWith("STARTTLS", StringComparison.Ordinal));
        Assert.DoesNotContain(plain.Lines, l => l.Contains("AUTH", StringComparison.Ordinal));

        await dialog.StartTlsAsync();
        var secure = await dialog.CommandAsync("EHLO client.test", "250");
        Assert.DoesNotContain(secure.Lines, l => l.EndsWith("STARTTLS", StringComparison.Ordinal));
        Assert.Contains(secure.Lines, l => l.EndsWith("AUTH PLAIN LOGIN", StringComparison.Ordinal));
        Assert.Equal(SecurityMaterial.CertificateSubject, dialog.ServerCertificate!.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false));
    }

    [Fact]
    public async Task Commands_pipelined_after_STARTTLS_are_not_executed()
    {
        await using var dialog = await SmtpDialog.ConnectAsync(_router.Port);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO client.test", "250");
        await dialog.SendAsync("STARTTLS\r\nRSET\r\n");
        var rest = await dialog.ReadToCloseAsync();
        Assert.DoesNotContain("250", rest, StringComparison.Ordinal);
        Assert.DoesNotContain("220", rest, StringComparison.Ordinal);
        Assert.StartsWith("554 5.5.1", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task STARTTLS_forgets_the_EHLO_and_the_transaction_before_it()
    {
        await using var dialog = await TlsDialog.ConnectAsync(_router.Port);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO client.test", "250");
        await dialog.StartTlsAsync();
        await dialog.CommandAsync("MAIL FROM:<someone@remote.test>", "503 5.5.1");
        await dialog.CommandAsync("EHLO client.test", "250");
        await dialog.CommandAsync("STARTTLS", "503");
    }

    [Fact]
    public async Task Implicit_TLS_port_greets_under_TLS()
    {
        await using var dialog = await TlsDialog.ConnectAsync(fixture.TlsPort, implicitTls: true);
        await dialog.ExpectAsync("220 mx.router.test");
        var ehlo = await dialog.CommandAsync("EHLO client.test", "250");
        Assert.Contains(ehlo.Lines, l => l.EndsWith("AUTH PLAIN LOGIN", StringComparison.Ordinal));
        Assert.DoesNotContain(ehlo.Lines, l => l.EndsWith("STARTTLS", StringComparison.Ordinal));
        await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "530 5.7.0");
    }

    [Fact]
    public async Task MailKit_delivers_over_STARTTLS_on_the_MTA_port_with_ESMTPS()
    {
        var token = TestMessages.NewToken();
        using (var client = await SecureClients.MailKitAsync(_router.Port, SecureSocketOptions.StartTls))
        {
            await client.SendAsync(SecureClients.Message("someone@remote.test", "demo@example.test", token));
            await client.DisconnectAsync(true);
        }
        var file = Assert.Single(_router.FilesContaining(token));
        Assert.Contains(" with ESMTPS id ", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
    }
}
