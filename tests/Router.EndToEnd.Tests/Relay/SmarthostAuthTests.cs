using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Relaying through a provider's smarthost that wants AUTH (router.relay.auth; Postfix's relayhost
/// with smtp_sasl_auth_enable): a router (A, for a.test) routes everything to the submission port of
/// another router (<see cref="SmarthostFixture"/>, B), says STARTTLS, verifies B's certificate and
/// authenticates before MAIL. A password that does not work, a next hop without STARTTLS (Postfix's
/// smtp-sink, which offers AUTH in clear) or a certificate A does not trust get no AUTH or no mail,
/// and the message waits in A's queue with a 4.7.x reason instead of bouncing.
/// </summary>
public sealed class SmarthostAuthTests(SmarthostFixture smarthost) : IClassFixture<SmarthostFixture>, IAsyncLifetime
{
    private const string Recipient = "demo@example.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("router-smarthost-a-");
    private readonly List<RouterProcess> _routers = [];
    private readonly List<PostfixSmtpSink> _sinks = [];

    /// <summary>Where the smarthost's output stood when this test began: its lines after it are this test's.</summary>
    private readonly int _smarthostOutputAtStart = smarthost.Router.Output.Length;

    private string SmarthostOutputOfThisTest => smarthost.Router.Output[_smarthostOutputAtStart..];

    [Fact]
    public async Task Mail_relayed_through_the_smarthost_goes_out_after_STARTTLS_and_AUTH_and_arrives()
    {
        var router = await StartSenderAsync(smarthost.SubmissionPort, SmarthostFixture.User, SmarthostFixture.Password);
        var token = TestMessages.NewToken();
        var sender = $"alice+{token}@a.test";

        var id = await SendAsync(router, token, sender);

        var file = await Eventually.ValueAsync(
            () => smarthost.Router.Mailbox(Recipient).NewFiles().FirstOrDefault(f => File.ReadAllText(f).Contains(token, StringComparison.Ordinal)),
            Deadline,
            () => $"{token} in the smarthost's Maildir; sender's output:\n{router.Output}\nsmarthost's output:\n{SmarthostOutputOfThisTest}");
        // The smarthost took it from the authenticated user (its accept line) over TLS with AUTH (RFC 3848 ESMTPSA).
        var accepted = $@": from=<{Regex.Escape(sender)}> size=\d+ nrcpt=1 client=unknown\[127\.0\.0\.1\] sasl_method=PLAIN sasl_username={Regex.Escape(SmarthostFixture.User)}";
        await Eventually.TrueAsync(() => Regex.IsMatch(SmarthostOutputOfThisTest, accepted), Deadline, () => $"a line matching {accepted} in the smarthost's output:\n{SmarthostOutputOfThisTest}");
        Assert.Contains($"by {SmarthostFixture.Hostname} (Router) with ESMTPSA", MaildirView.TraceOf(File.ReadAllBytes(file)), StringComparison.Ordinal);
        await router.WaitForOutputAsync($"{id}: to=<{Recipient}> relay=127.0.0.1 status=Sent (250 ", Deadline);
        Assert.DoesNotContain(SmarthostFixture.Password, router.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(SmarthostFixture.Password, SmarthostOutputOfThisTest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pooled_connection_stays_authenticated_for_the_next_message()
    {
        var router = await StartSenderAsync(smarthost.SubmissionPort, SmarthostFixture.User, SmarthostFixture.Password, "delivery.connection-idle-timeout = 60s");
        var first = TestMessages.NewToken();
        var second = TestMessages.NewToken();

        var firstId = await SendAsync(router, first, "alice@a.test");
        // Logged once the attempt is over, so its connection is back in the pool.
        await router.WaitForOutputAsync($"{firstId}: to=<{Recipient}> relay=127.0.0.1 status=Sent (250 ", Deadline);
        var secondId = await SendAsync(router, second, "alice@a.test");
        await router.WaitForOutputAsync($"{secondId}: to=<{Recipient}> relay=127.0.0.1 status=Sent (250 ", Deadline);

        // Both went over one connection, authenticated once: the smarthost wants AUTH before every MAIL.
        Assert.Single(smarthost.Router.Mailbox(Recipient).NewMessagesContaining(first));
        Assert.Single(smarthost.Router.Mailbox(Recipient).NewMessagesContaining(second));
        // Its log may lag behind the files: wait for both accept lines, then count.
        var accepted = $@"sasl_username={Regex.Escape(SmarthostFixture.User)}";
        await Eventually.TrueAsync(() => Regex.Count(SmarthostOutputOfThisTest, accepted) >= 2, Deadline, () => $"two accept lines in the smarthost's output:\n{SmarthostOutputOfThisTest}");
        var lines = SmarthostOutputOfThisTest;
        Assert.True(
            Regex.Count(lines, @"\] connect from unknown\[127\.0\.0\.1\]") == 1 && Regex.Count(lines, $@"authenticated as {Regex.Escape(SmarthostFixture.User)}") == 1 && Regex.Count(lines, accepted) == 2,
            $"not one connection, one AUTH and two messages; the smarthost's output:\n{lines}");
    }

    [Fact]
    public async Task A_wrong_password_leaves_the_message_deferred_with_4_7_0_and_never_bounces_it()
    {
        var wrong = "not-" + SmarthostFixture.OtherPassword;
        var router = await StartSenderAsync(smarthost.SubmissionPort, SmarthostFixture.OtherUser, wrong);
        var token = TestMessages.NewToken();

        var id = await SendAsync(router, token, "alice@a.test");

        // Retried on the schedule (1 s), deferred each time with the server's 535 as the reason.
        var deferred = $@"{id}: to=<{Regex.Escape(Recipient)}> relay=127\.0\.0\.1 status=Deferred \(451 4\.7\.0 SASL authentication failed; server 127\.0\.0\.1\[127\.0\.0\.1\] said: 535 5\.7\.8 Authentication credentials invalid\)";
        await Eventually.TrueAsync(() => Regex.Count(router.Output, deferred) >= 2, Deadline, () => $"two deferred attempts of {id}; output:\n{router.Output}");
        await router.WaitForOutputAsync("delivery to example.test temporarily suspended until", Deadline);
        var (exit, list, _) = await router.RunCliAsync("queue", "list");
        Assert.True(exit == 0, list);
        Assert.Contains($"{Recipient} [Deferred] 451 4.7.0 SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8", list, StringComparison.Ordinal);
        Assert.Contains(id, list, StringComparison.Ordinal);

        Assert.Empty(DsnReport.FindAll(router, "alice@a.test", token));
        Assert.DoesNotContain("non-delivery notification", router.Output, StringComparison.Ordinal);
        var refused = $@"SASL PLAIN authentication failed: authentication failure \(\d+ in the window\), sasl_username={Regex.Escape(SmarthostFixture.OtherUser)}";
        await Eventually.TrueAsync(() => Regex.IsMatch(SmarthostOutputOfThisTest, refused), Deadline, () => $"a line matching {refused} in the smarthost's output:\n{SmarthostOutputOfThisTest}");
        Assert.Empty(smarthost.Router.Mailbox(Recipient).NewMessagesContaining(token));
        Assert.DoesNotContain(wrong, router.Output + list, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, SmarthostOutputOfThisTest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_file_fixed_and_reloaded_with_SIGHUP_delivers_the_deferred_message_without_a_restart()
    {
        var wrong = "stale-" + SmarthostFixture.ReloadPassword;
        var router = await StartSenderAsync(smarthost.SubmissionPort, SmarthostFixture.ReloadUser, wrong);
        var token = TestMessages.NewToken();
        var id = await SendAsync(router, token, "alice@a.test");
        await router.WaitForOutputAsync($"{id}: to=<{Recipient}> relay=127.0.0.1 status=Deferred (451 4.7.0 SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 ", Deadline);

        // A password file that does not load fails the reload and changes nothing.
        var passwordFile = Path.Combine(_folder.FullName, "relay-password");
        await File.WriteAllTextAsync(passwordFile, "");
        await router.SignalAsync("HUP");
        await router.WaitForOutputAsync($"router: reload failed; the routing tables and certificate in use stay: router.relay.auth \"127.0.0.1:{smarthost.SubmissionPort}\": password-file {passwordFile} is empty", Deadline);

        // The right one, then SIGHUP: the next retry (every second) authenticates and delivers.
        await File.WriteAllTextAsync(passwordFile, SmarthostFixture.ReloadPassword + "\n");
        await router.SignalAsync("HUP");
        await router.WaitForOutputAsync("; relay.auth for 1 next hops (other settings take effect at the next start)", Deadline);
        await router.WaitForOutputAsync($"{id}: to=<{Recipient}> relay=127.0.0.1 status=Sent (250 ", Deadline);

        Assert.Single(smarthost.Router.Mailbox(Recipient).NewMessagesContaining(token));
        Assert.DoesNotContain(SmarthostFixture.ReloadPassword, router.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_next_hop_without_STARTTLS_gets_no_AUTH_and_the_message_is_deferred()
    {
        // smtp-sink offers AUTH PLAIN LOGIN in clear, takes every mail, and never offers STARTTLS; -v logs each command.
        var port = TestPorts.Next();
        var sink = await PostfixSmtpSink.StartAsync(IPAddress.Loopback, port, "-v");
        _sinks.Add(sink);
        var router = await StartSenderAsync(port, SmarthostFixture.User, SmarthostFixture.Password);
        var token = TestMessages.NewToken();

        var id = await SendAsync(router, token, "alice@a.test");

        await router.WaitForOutputAsync($"{id}: to=<{Recipient}> relay=127.0.0.1 status=Deferred (451 4.7.4 TLS is required for SASL authentication, but 127.0.0.1[127.0.0.1] does not offer STARTTLS)", Deadline);
        // The sink saw the EHLO, then the connection closed: no AUTH, no MAIL.
        var log = await Eventually.ValueAsync(
            () => sink.Output is var text && text.IndexOf("EHLO mx.router.test", StringComparison.Ordinal) is var ehlo and >= 0
                && text.IndexOf("disconnect", ehlo, StringComparison.Ordinal) >= 0 ? text : null,
            Deadline,
            () => $"EHLO then disconnect in smtp-sink's log:\n{sink.Output}");
        Assert.DoesNotContain(": AUTH", log, StringComparison.Ordinal);
        Assert.DoesNotContain(": MAIL", log, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(SmarthostFixture.Password)), log, StringComparison.Ordinal);
        var (_, list, _) = await router.RunCliAsync("queue", "list");
        Assert.Contains($"{Recipient} [Deferred] 451 4.7.4 TLS is required for SASL authentication", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_the_sender_does_not_trust_gets_no_AUTH_and_the_message_is_deferred()
    {
        var router = await StartSenderAsync(smarthost.SubmissionPort, SmarthostFixture.User, SmarthostFixture.Password, trustTestCa: false);
        var token = TestMessages.NewToken();

        var id = await SendAsync(router, token, "alice@a.test");

        await router.WaitForOutputAsync($"{id}: to=<{Recipient}> relay=127.0.0.1 status=Deferred (451 4.7.5 127.0.0.1 [127.0.0.1]: TLS handshake with 127.0.0.1:{smarthost.SubmissionPort} failed", Deadline);
        Assert.DoesNotContain("authenticated as", SmarthostOutputOfThisTest, StringComparison.Ordinal);
        Assert.DoesNotContain("authentication failed", SmarthostOutputOfThisTest, StringComparison.Ordinal);
        Assert.Empty(smarthost.Router.Mailbox(Recipient).NewMessagesContaining(token));
    }

    [Fact]
    public async Task An_opportunistic_TLS_policy_for_the_smarthost_takes_its_certificate_unverified_and_authenticates()
    {
        var router = await StartSenderAsync(smarthost.SubmissionPort, SmarthostFixture.User, SmarthostFixture.Password, $$"""delivery.tls-policy { "127.0.0.1:{{smarthost.SubmissionPort}}" = opportunistic }""", trustTestCa: false);
        var token = TestMessages.NewToken();

        var id = await SendAsync(router, token, "alice@a.test");

        await router.WaitForOutputAsync($"{id}: to=<{Recipient}> relay=127.0.0.1 status=Sent (250 ", Deadline);
        var file = Assert.Single(smarthost.Router.Mailbox(Recipient).NewFiles(), f => File.ReadAllText(f).Contains(token, StringComparison.Ordinal));
        Assert.Contains($"by {SmarthostFixture.Hostname} (Router) with ESMTPSA", MaildirView.TraceOf(File.ReadAllBytes(file)), StringComparison.Ordinal);
    }

    /// <summary>
    /// Router A: local domain a.test, everything else routed to 127.0.0.1:<paramref name="port"/> with
    /// credentials for it (the password in a file only its owner reads), retried every second; it
    /// trusts the tests' CA unless told not to.
    /// </summary>
    private async Task<RouterProcess> StartSenderAsync(int port, string user, string password, string extraHocon = "", bool trustTestCa = true)
    {
        var passwordFile = Path.Combine(_folder.FullName, "relay-password");
        await File.WriteAllTextAsync(passwordFile, password + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var router = await RouterProcess.StartAsync(new RouterOptions
        {
            LocalDomains = ["a.test"],
            Mailboxes = ["alice@a.test"],
            Postmaster = "alice@a.test",
            Aliases = new Dictionary<string, string[]>(),
            Environment = trustTestCa ? new Dictionary<string, string> { ["SSL_CERT_FILE"] = smarthost.CaFile } : new Dictionary<string, string>(),
            ExtraHocon = $$"""
                router {
                  http.endpoint = "127.0.0.1:{{TestPorts.Next()}}"
                  relay.transport { "*" = "127.0.0.1:{{port}}" }
                  relay.auth { "127.0.0.1:{{port}}" { user = "{{user}}", password-file = "{{passwordFile}}" } }
                  dns.servers = ["127.0.0.1:{{TestPorts.Next()}}"]
                  delivery { connect-timeout = 2s, command-timeout = 10s }
                  queue.retry-schedule = [1s]
                  {{extraHocon}}
                }
                """,
        });
        _routers.Add(router);
        await router.WaitForOutputAsync($"relay.auth: AUTH as {user} at 127.0.0.1:{port}", Deadline);
        return router;
    }

    /// <summary>Sends one message for <see cref="Recipient"/> through <paramref name="router"/>; returns its queue id.</summary>
    private static async Task<string> SendAsync(RouterProcess router, string token, string sender)
    {
        await using var c = await router.ConnectEhloAsync();
        return TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(token, Recipient), sender, [Recipient]));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var router in _routers) router.Dispose();
        foreach (var sink in _sinks) sink.Dispose();
        _folder.Delete(recursive: true);
        // The smarthost may still be writing the lines of this test's sessions (a failed AUTH, say):
        // the next test's share of its log must start after them. A session's last line is its
        // "disconnect from", and the senders are gone, so every session ends.
        await Eventually.TrueAsync(
            () => smarthost.Router.Output is var log && Regex.Count(log, @"\bconnect from ") == Regex.Count(log, @"\bdisconnect from "),
            Deadline,
            () => $"a disconnect line for each connect line in the smarthost's output:\n{smarthost.Router.Output}");
    }
}
