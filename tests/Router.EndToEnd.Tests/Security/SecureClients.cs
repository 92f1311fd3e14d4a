using System.Diagnostics;
using System.Net;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

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

    public static async Task<(int Exit, string Output)> RunAsync(string file, string? stdin, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
