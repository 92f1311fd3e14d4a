using System.Net;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>MailKit, swaks and openssl as the security tests drive them (any server certificate accepted).</summary>
internal static class SecureClients
{
    public static async Task<SmtpClient> MailKitAsync(int port, SecureSocketOptions options, IPAddress? from = null)
    {
        var client = new SmtpClient
        {
            Timeout = 20_000,
            CheckCertificateRevocation = false,
            // The test routers use self-signed certificates: pin the subject instead of a chain.
            ServerCertificateValidationCallback = (_, certificate, _, _) => certificate?.Subject == "CN=" + SecurityMaterial.CertificateSubject,
        };
        if (from is not null) client.LocalEndPoint = new IPEndPoint(from, 0);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await client.ConnectAsync("127.0.0.1", port, options, cts.Token);
        return client;
    }

    public static MimeMessage Message(string from, string to, string token)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = "security " + token;
        message.Body = new TextPart("plain") { Text = $"Body {token}\r\nSecond line.\r\n" };
        return message;
    }

    /// <summary>Runs <paramref name="file"/> (see <see cref="ExternalProgram"/>); Output is its standard output followed by its standard error.</summary>
    public static async Task<(int Exit, string Output)> RunAsync(string file, string? stdin, params string[] args)
    {
        var (exit, stdout, stderr) = await ExternalProgram.RunAsync(file, stdin, args);
        return (exit, stdout + stderr);
    }
}
