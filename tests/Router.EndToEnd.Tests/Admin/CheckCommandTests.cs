using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Security;

namespace Router.EndToEnd.Tests.Admin;

/// <summary>
/// `router check` (as `postfix check`): the configuration, the TLS certificate and the DKIM keys
/// are loaded as a start would load them, nothing is started; what is wrong is one line on stderr
/// and exit code 2, warnings do not fail it.
/// </summary>
public sealed class CheckCommandTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("router-check-");

    public void Dispose() => _folder.Delete(recursive: true);

    private async Task<(int Exit, string Stdout, string Stderr)> CheckAsync(string hocon)
    {
        var config = Path.Combine(_folder.FullName, "router.hocon");
        await File.WriteAllTextAsync(config, $"router.data-dir = \"{Path.Combine(_folder.FullName, "data")}\"\n{hocon}");
        return await RouterProcess.RunCliAsync(config, "check");
    }

    [Fact]
    public async Task A_good_configuration_is_summed_up_and_starts_nothing()
    {
        var (certificate, key) = SecurityMaterial.WriteServerCertificate(_folder.FullName);
        var (exit, stdout, stderr) = await CheckAsync($$"""
            router {
              local-domains = ["example.test"]
              mailboxes = ["alice@example.test", "bob@example.test"]
              aliases { "postmaster@example.test" = ["alice@example.test"] }
              tls { certificate = "{{certificate}}", key = "{{key}}" }
            }
            """);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains($"router: configuration OK: 1 local domains, 2 mailboxes, 1 aliases, 0 catch-alls, 0 DKIM domains; TLS certificate CN={SecurityMaterial.CertificateSubject}, valid until", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
        Assert.False(Directory.Exists(Path.Combine(_folder.FullName, "data")), "check created the data folder");
    }

    [Fact]
    public async Task Warnings_are_printed_and_do_not_fail_the_check()
    {
        var (exit, stdout, stderr) = await CheckAsync("""
            router {
              limits.max-mesage-size = 1MiB
              postmaster = "nobody@example.test"
            }
            """);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("router: warning: router.limits.max-mesage-size", stderr, StringComparison.Ordinal);
        Assert.Contains("router: warning: router.postmaster nobody@example.test is neither a local mailbox nor an alias", stderr, StringComparison.Ordinal);
        Assert.Contains("router: configuration OK", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_shipped_demo_routing_does_not_leak_into_an_operators_domains()
    {
        // HOCON merges objects: an alias in the shipped defaults would be in force here, and
        // postmaster@ the operator's domain would go to the demo's example.test.
        var (exit, stdout, stderr) = await CheckAsync("""
            router {
              local-domains = ["mydomain.test"]
              mailboxes = ["alice@mydomain.test"]
            }
            """);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("router: configuration OK: 1 local domains, 1 mailboxes, 0 aliases, 0 catch-alls", stdout, StringComparison.Ordinal);
        Assert.Contains("router: warning: router.postmaster postmaster@mydomain.test is neither a local mailbox nor an alias", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("router.aliases { \"a@example.test\" = [ }", "line 2: '}' where the '[' of line 2 is still open")]
    [InlineData("router {\n  hostname = \"mx.example.test\"", "line 2: '{' is not closed")]
    [InlineData("router.hostname = \"mx.example.test", "line 2: a string is not closed")]
    public async Task A_file_whose_brackets_or_strings_do_not_close_fails_in_one_line(string hocon, string expected)
    {
        // Akka's parser took an unclosed "router {" silently and never returned on an unclosed "[".
        var (exit, _, stderr) = await CheckAsync(hocon).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_of_another_certificate_fails_the_check_naming_router_tls()
    {
        var (certificate, _) = SecurityMaterial.WriteServerCertificate(_folder.FullName);
        var (_, otherKey) = SecurityMaterial.WriteServerCertificate(_folder.CreateSubdirectory("other").FullName);
        var (exit, stdout, stderr) = await CheckAsync($"router.tls {{ certificate = \"{certificate}\", key = \"{otherKey}\" }}");

        Assert.Equal(2, exit);
        Assert.StartsWith("router: router.tls: cannot load the certificate or key", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("configuration OK", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("router.limits.max-message-size = lots", "router: router.limits.max-message-size must be a size such as 25MiB, not \"lots\"")]
    [InlineData("router.queue.retry-schedule = [1m, soon]", "router: router.queue.retry-schedule: \"soon\" is not a duration")]
    [InlineData("router.dkim { \"example.test\" { selector = \"s1\", key = \"/nonexistent/dkim.pem\" } }", "router: router.dkim: cannot load a signing key")]
    [InlineData("router.catch-all = \"demo@example.test\"", "router: router.catch-all must be an object")]
    [InlineData("router.catch-all { \"example.test\" = [\"demo@example.test\"] }", "router: router.catch-all \"example.test\" must be a string, not a list")]
    [InlineData("router.aliases { \"sales@example.test\" { to = \"demo@example.test\" } }", "router: router.aliases \"sales@example.test\" must be a string or a list of strings")]
    [InlineData("router.relay.transport { \"remote.test\" = [\"127.0.0.1:25\"] }", "router: router.relay.transport \"remote.test\" must be a string, not a list")]
    [InlineData("router { hostname = = }", "router: router.hostname is empty")]
    [InlineData("router.smtp.mta-auth = maybe", "router: router.smtp.mta-auth must be on or off, not \"maybe\"")]
    [InlineData("router.http.endpoint = \"0.0.0.0:8025\"", "router: router.http.endpoint must be a loopback address (127.0.0.0/8 or ::1), not 0.0.0.0")]
    // Values that refused every message (audit: "configuration OK", then 421 or 552 or 452 to everything).
    [InlineData("router.limits.idle-timeout = 0s", "router: router.limits.idle-timeout must be a duration above zero such as 30s, not 0s")]
    [InlineData("router.limits.max-message-size = 0", "router: router.limits.max-message-size must be above zero (there is no \"no limit\"), not 0")]
    [InlineData("router.limits.max-recipients = 0", "router: router.limits.max-recipients must be at least 1, not 0")]
    [InlineData("router.limits.max-connections = -5", "router: router.limits.max-connections must be at least 0, not -5")]
    [InlineData("router.queue.give-up-after = 0s", "router: router.queue.give-up-after must be a duration above zero such as 30s, not 0s")]
    [InlineData("router.delivery.mx-port = 70000", "router: router.delivery.mx-port must be from 1 to 65535, not 70000")]
    public async Task A_wrong_setting_fails_the_check_with_one_line_naming_it(string hocon, string expected)
    {
        var (exit, _, stderr) = await CheckAsync(hocon);

        Assert.Equal(2, exit);
        Assert.StartsWith(expected, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    /// <summary>Each of these passed the check once, and then stopped `router run` with exit code 2.</summary>
    [Theory]
    [InlineData("router.relay.trusted-networks = [\"10.0.0.0/33\"]", "router: router.relay.trusted-networks: '10.0.0.0/33' is not a CIDR block")]
    [InlineData("router.queue.store = \"mysql\"", "router: router.queue.store must be \"sqlite\" or \"postgresql\", not \"mysql\"")]
    [InlineData("router.queue.store = \"postgresql\"", "router: router.queue.connection-string is required with store = postgresql")]
    [InlineData("router.dns.servers = [\"localhost\"]", "router: router.dns.servers: name server 'localhost' is not of the form ip:port")]
    [InlineData("router.relay.transport { \"bad.test\" = \"nohostport:99999\" }", "router: router.relay.transport \"bad.test\": static route 'nohostport:99999': '99999' is not a port")]
    [InlineData("akka.cluster.seed-nodes = [\"nonsense\"]", "router: akka.cluster.seed-nodes: ")]
    [InlineData("router.queue { store = \"postgresql\", connection-string = \"Host=127.0.0.1;Port=notaport;Password=s3cr3t\" }", "router: router.queue.connection-string: Couldn't set port")]
    [InlineData("router.relay.auth { \"smtp.provider.test:smtp\" { user = \"u\", password-file = \"/etc/hostname\" } }", "router: router.relay.auth \"smtp.provider.test:smtp\": 'smtp.provider.test:smtp' is not a next hop of the form host:port")]
    [InlineData("router.relay.auth { \"smtp.provider.test:587\" { user = \"u\", password-file = \"/nonexistent/relay-password\" } }", "router: router.relay.auth \"smtp.provider.test:587\": password-file /nonexistent/relay-password does not exist")]
    [InlineData("router.relay.auth { \"smtp.provider.test:587\" { user = \"u\", password = \"s3cret\" } }", "router: router.relay.auth \"smtp.provider.test:587\": a password is never written in the configuration")]
    [InlineData("router.smtp.dnsbl = [\"bl.example=127.0.0.[2..300]\"]", "router: router.smtp.dnsbl: 'bl.example=127.0.0.[2..300]': '[2..300]' in the result filter is not")]
    [InlineData("router.smtp.dnsbl = [\"spamhaus\"]", "router: router.smtp.dnsbl: 'spamhaus': 'spamhaus' is not a DNS zone")]
    [InlineData("router.smtp.dnsbl = [\"bl.test\", \"BL.TEST.=127.0.0.2\"]", "router: router.smtp.dnsbl: bl.test is listed more than once")]
    public async Task A_setting_the_start_refuses_fails_the_check_without_connecting_or_creating_files(string hocon, string expected)
    {
        var (exit, _, stderr) = await CheckAsync(hocon);

        Assert.Equal(2, exit);
        Assert.StartsWith(expected, stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_folder.FullName, "data")), "check created the data folder");
    }

    [Fact]
    public async Task Relay_credentials_are_read_and_counted_and_their_password_never_printed()
    {
        var password = Path.Combine(_folder.FullName, "relay-password");
        await File.WriteAllTextAsync(password, "pr0vider-S3cret\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(password, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (exit, stdout, stderr) = await CheckAsync($$"""
            router.relay {
              transport { "*" = "smtp.provider.test:587" }
              auth { "smtp.provider.test:587" { user = "router@example.test", password-file = "{{password}}" } }
            }
            """);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("; relay.auth credentials for 1 next hops", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("pr0vider-S3cret", stdout + stderr, StringComparison.Ordinal);
    }

    /// <summary>HOCON's include, relative to the including file (Akka's parser has no resolver: it failed with a NullReferenceException).</summary>
    [Fact]
    public async Task An_included_file_is_read_relative_to_the_including_one_and_a_missing_one_is_named()
    {
        Directory.CreateDirectory(Path.Combine(_folder.FullName, "conf.d"));
        await File.WriteAllTextAsync(Path.Combine(_folder.FullName, "conf.d", "aliases.conf"), "router.aliases { \"sales@example.test\" = [\"demo@example.test\"] }\n");
        var (exit, stdout, stderr) = await CheckAsync("include \"conf.d/aliases.conf\"");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("1 aliases", stdout, StringComparison.Ordinal);

        (exit, stdout, stderr) = await CheckAsync("include \"conf.d/missing.conf\"");
        Assert.Equal(2, exit);
        Assert.Equal($"router: {Path.Combine(_folder.FullName, "router.hocon")}: include \"conf.d/missing.conf\": {Path.Combine(_folder.FullName, "conf.d", "missing.conf")} does not exist", stderr.Trim());
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_syntax_error_in_an_included_file_names_that_file_and_its_line()
    {
        Directory.CreateDirectory(Path.Combine(_folder.FullName, "conf.d"));
        var included = Path.Combine(_folder.FullName, "conf.d", "aliases.conf");
        await File.WriteAllTextAsync(included, "# aliases\nrouter.aliases {\n  sales@example.test = [\"demo@example.test\"]\n}\n");

        var (exit, stdout, stderr) = await CheckAsync("router.hostname = \"mx.example.test\"\ninclude \"conf.d/aliases.conf\"");

        Assert.Equal(2, exit);
        Assert.StartsWith($"router: {included}, line 3: ", stderr.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_DNS_blocklists_are_named_in_the_summary()
    {
        var (exit, stdout, stderr) = await CheckAsync("router.smtp.dnsbl = [\"zen.spamhaus.org=127.0.0.[2..11]\", \"BL.example.\"]");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("0 DKIM domains, DNSBL zen.spamhaus.org=127.0.0.[2..11], bl.example; ", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Unquoted_dotted_domains_are_the_domain_not_nested_settings()
    {
        // HOCON reads example.test = x as example { test = x }; a map keyed by domains takes it back.
        var (exit, stdout, stderr) = await CheckAsync("""
            router {
              catch-all { example.test = "demo@example.test" }
              relay.transport { remote.test = "127.0.0.1:3326" }
              delivery.tls-policy { remote.test = require }
            }
            """);

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("0 aliases, 1 catch-alls", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unquoted_address_as_a_key_fails_with_the_file_line_and_a_hint()
    {
        var (exit, _, stderr) = await CheckAsync("""
            router.aliases {
              sales@example.test = "demo@example.test"
            }
            """);

        Assert.Equal(2, exit);
        var config = Path.Combine(_folder.FullName, "router.hocon");
        Assert.StartsWith($"router: {config}, line 3: Unknown token", stderr, StringComparison.Ordinal);
        Assert.Contains("keys with '@', such as addresses, must be quoted", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Lines_of_the_users_file_that_are_no_user_are_warned_of_by_number_never_quoted()
    {
        var data = _folder.CreateSubdirectory("data").FullName;
        var users = Path.Combine(data, "users");
        await File.WriteAllTextAsync(users, "# users\ndave:s3cret-Passw0rd\nerin:pbkdf2-sha256:1000:not-base64:xyz\n");

        var (exit, stdout, stderr) = await CheckAsync("");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains($"router: warning: {users} line 2 is not name:pbkdf2-sha256:iterations:salt:hash", stderr, StringComparison.Ordinal);
        Assert.Contains($"router: warning: {users} line 3 is not", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("not-base64", stderr, StringComparison.Ordinal);
    }
}
