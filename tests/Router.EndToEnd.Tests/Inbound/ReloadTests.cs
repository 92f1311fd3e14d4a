using System.Security.Cryptography.X509Certificates;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Security;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// SIGHUP re-reads the configuration's routing tables and the TLS certificate without a restart
/// (as `postfix reload` does): a mailbox added to the mailboxes file or an alias added to the
/// configuration file takes mail at once, a renewed certificate is presented from the next
/// handshake on; a file that does not load, or that the next start would refuse, leaves what is
/// in use as it was.
/// </summary>
public sealed class ReloadTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_router_started_with_sighup_ignored_warns_that_kill_hup_will_not_reload_it()
    {
        // nohup's SIG_IGN is kept by the runtime: the reload would never happen, so the start says so.
        using (var ignoring = await RouterProcess.StartAsync(new RouterOptions { SighupIgnored = true }))
        {
            await ignoring.WaitForOutputAsync("router: warning: SIGHUP is ignored (inherited from the process that started the router, e.g. nohup): kill -HUP will not reload the configuration", Deadline);
        }
        // The warning comes before the port opens: a router started as usual has none.
        using var router = await RouterProcess.StartAsync();
        Assert.DoesNotContain("SIGHUP is ignored", router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sighup_takes_new_mailboxes_and_aliases_and_a_broken_file_changes_nothing()
    {
        var folder = Directory.CreateTempSubdirectory("router-reload-");
        try
        {
            var mailboxesFile = Path.Combine(folder.FullName, "mailboxes");
            await File.WriteAllTextAsync(mailboxesFile, "dave@example.test\n");
            using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = $"router.mailboxes-file = \"{mailboxesFile}\"" });
            Assert.Equal(250, await RcptAsync(router, "dave@example.test"));
            Assert.Equal(550, await RcptAsync(router, "erin@example.test"));
            Assert.Equal(550, await RcptAsync(router, "sales@example.test"));

            await File.AppendAllTextAsync(mailboxesFile, "# added while running\nerin@example.test\n");
            await File.AppendAllTextAsync(router.ConfigPath, "\nrouter.aliases { \"sales@example.test\" = [\"erin@example.test\"] }\n");
            await ReloadAsync(router, "router: reloaded: 1 local domains, 6 mailboxes, 3 aliases");

            Assert.Equal(250, await RcptAsync(router, "erin@example.test"));
            var token = TestMessages.NewToken();
            await using (var c = await router.ConnectEhloAsync())
            {
                await TestMessages.SendAsync(c, TestMessages.Create(token, to: "sales@example.test"), "a@remote.test", ["sales@example.test"]);
            }
            Assert.Single(router.Mailbox("erin@example.test").NewMessagesContaining(token));

            // A mailbox at a domain that is not local: the file is refused as a whole.
            await File.AppendAllTextAsync(mailboxesFile, "zed@elsewhere.test\n");
            await ReloadAsync(router, "router: reload failed; the routing tables and certificate in use stay: router.mailboxes: 'zed@elsewhere.test'");
            Assert.Equal(250, await RcptAsync(router, "erin@example.test"));
            Assert.Equal(250, await RcptAsync(router, "sales@example.test"));
            Assert.False(router.HasExited, "the router exited on a reload that failed");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Sighup_presents_a_renewed_certificate_from_the_next_handshake_and_a_mismatched_key_changes_nothing()
    {
        var folder = Directory.CreateTempSubdirectory("router-reload-");
        try
        {
            var (certificate, key) = SecurityMaterial.WriteServerCertificate(folder.FullName);
            using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = $"router.tls {{ certificate = \"{certificate}\", key = \"{key}\" }}" });
            var first = await PresentedCertificateAsync(router);
            Assert.Equal(Thumbprint(certificate), first);

            // The renewal (as certbot's deploy hook would): new files in place, then SIGHUP.
            var (renewedCertificate, renewedKey) = SecurityMaterial.WriteServerCertificate(folder.CreateSubdirectory("renewed").FullName);
            File.Copy(renewedCertificate, certificate, overwrite: true);
            File.Copy(renewedKey, key, overwrite: true);
            await ReloadAsync(router, "router: reloaded: ");
            var second = await PresentedCertificateAsync(router);
            Assert.NotEqual(first, second);
            Assert.Equal(Thumbprint(certificate), second);

            // Caught half-way through a renewal: the key belongs to another certificate.
            var (_, otherKey) = SecurityMaterial.WriteServerCertificate(folder.CreateSubdirectory("other").FullName);
            File.Copy(otherKey, key, overwrite: true);
            await ReloadAsync(router, "router: reload failed; the routing tables and certificate in use stay: router.tls: cannot load the certificate or key");
            Assert.Equal(second, await PresentedCertificateAsync(router));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Sighup_refuses_a_configuration_the_next_start_would_refuse_and_changes_nothing()
    {
        using var router = await RouterProcess.StartAsync();
        await File.AppendAllTextAsync(router.ConfigPath, "\nrouter.aliases { \"sales@example.test\" = [\"alice@example.test\"] }\nrouter.queue.store = \"mysql\"\n");

        await ReloadAsync(router, "router: reload failed; the routing tables and certificate in use stay: router.queue.store must be \"sqlite\" or \"postgresql\"");

        Assert.DoesNotContain("router: reloaded", router.Output, StringComparison.Ordinal);
        Assert.Equal(550, await RcptAsync(router, "sales@example.test"));
    }

    [Fact]
    public async Task Sighup_sends_rcpt_to_postmaster_to_the_new_router_postmaster()
    {
        using var router = await RouterProcess.StartAsync(new RouterOptions { Postmaster = "alice@example.test" });
        await File.AppendAllTextAsync(router.ConfigPath, "\nrouter.postmaster = \"bob@example.test\"\n");
        await ReloadAsync(router, "router: reloaded: ");

        var token = TestMessages.NewToken();
        await using (var c = await router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, to: "postmaster"), "a@remote.test", ["Postmaster"]);
        }

        Assert.Single(router.Mailbox("bob@example.test").NewMessagesContaining(token));
        Assert.Empty(router.Mailbox("alice@example.test").NewMessagesContaining(token));
    }

    [Fact]
    public async Task Lines_of_the_users_file_that_are_no_user_are_warned_of_at_start_and_on_sighup_never_quoted()
    {
        var folder = Directory.CreateTempSubdirectory("router-reload-");
        try
        {
            var users = Path.Combine(folder.FullName, "users");
            await File.WriteAllTextAsync(users, "dave:s3cret-Passw0rd\n");
            using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = $"router.auth.users-file = \"{users}\"" });
            await router.WaitForOutputAsync($"{users} line 1 is not name:pbkdf2-sha256", Deadline);

            await File.AppendAllTextAsync(users, "erin:0th3r-Passw0rd\n");
            await ReloadAsync(router, $"{users} line 2 is not name:pbkdf2-sha256");

            Assert.DoesNotContain("s3cret", router.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("0th3r", router.Output, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static string Thumbprint(string certificatePem) => X509Certificate2.CreateFromPem(File.ReadAllText(certificatePem)).Thumbprint;

    /// <summary>The thumbprint of the certificate a fresh STARTTLS handshake is given.</summary>
    private static async Task<string> PresentedCertificateAsync(RouterProcess router)
    {
        await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(router.Port);
        return dialog.ServerCertificate!.Thumbprint;
    }

    private static async Task ReloadAsync(RouterProcess router, string expected)
    {
        await router.SignalAsync("HUP");
        await router.WaitForOutputAsync(expected, Deadline);
    }

    /// <summary>The code of the reply to RCPT TO:&lt;<paramref name="address"/>&gt; in a fresh session.</summary>
    private static async Task<int> RcptAsync(RouterProcess router, string address)
    {
        await using var c = await router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.SendLineAsync($"RCPT TO:<{address}>");
        return (await c.ReadReplyAsync()).Code;
    }
}
