using System.Net;
using System.Text;
using Router.Actors.Security;
using Router.Actors.Tests.Delivery;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Security;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// DNS blocklists (router.smtp.dnsbl; RFC 5782; Postfix's reject_rbl_client), end to end: a real
/// router trusting only 127.0.0.1, its lookups answered by a real dnsmasq (its only name server)
/// serving bl.test (127.0.0.2 and ::1 listed, with TXT records) and codes.test (127.0.0.3 listed
/// with a code outside the configured 127.0.0.[2..11]). Clients connect from other loopback
/// addresses; dnsmasq's query log shows which lookups were made.
/// </summary>
public sealed class DnsblTests(DnsblTests.World world) : IClassFixture<DnsblTests.World>
{
    private const string Password = "alice-Secret-1";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly IPAddress Listed = IPAddress.Parse("127.0.0.2");

    public sealed class World : IAsyncLifetime
    {
        private readonly DnsmasqFixture _dns = new();
        private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("router-dnsbl-");
        private string _server = "";

        public RouterProcess Router { get; private set; } = null!;

        public HttpClient Admin { get; private set; } = null!;

        public int SubmissionPort { get; private set; }

        /// <summary>The router's MTA listener on [::1].</summary>
        public IPEndPoint Ipv6EndPoint { get; private set; } = null!;

        /// <summary>Every query dnsmasq was asked so far ("query[A] 2.0.0.127.bl.test from 127.0.0.1").</summary>
        public string DnsLog => _dns.LogOf(_server);

        public async Task InitializeAsync()
        {
            var ipv6Loopback = "1." + string.Concat(Enumerable.Repeat("0.", 31)) + "bl.test";
            _server = await _dns.StartAsync(
            [
                DnsmasqFixture.Host("2.0.0.127.bl.test", "127.0.0.2"),
                DnsmasqFixture.Txt("2.0.0.127.bl.test", "listed for testing"),
                // The trusted client is listed too: it must never be looked up.
                DnsmasqFixture.Host("1.0.0.127.bl.test", "127.0.0.2"),
                DnsmasqFixture.Host(ipv6Loopback, "127.0.0.2"),
                DnsmasqFixture.Txt(ipv6Loopback, "v6 listed"),
                DnsmasqFixture.Host("3.0.0.127.codes.test", "127.0.0.12"),
            ]);
            var users = Path.Combine(_folder.FullName, "users");
            new UserStore(users).Set("alice@example.test", Password, iterations: 1000);
            var http = TestPorts.Next();
            var ipv6Port = TestPorts.Next();
            SubmissionPort = TestPorts.Next();
            Router = await RouterProcess.StartAsync(new RouterOptions
            {
                TrustedNetworks = ["127.0.0.1/32"],
                ExtraEndpoints = [$"[::1]:{ipv6Port}"],
                ExtraHocon = $$"""
                    router {
                      smtp.dnsbl = ["bl.test", "codes.test=127.0.0.[2..11]"]
                      dns { servers = ["{{_server}}"], timeout = 2s }
                      http.endpoint = "127.0.0.1:{{http}}"
                      smtp.submission-endpoints = ["127.0.0.1:{{SubmissionPort}}"]
                      smtp.mta-auth = on
                      auth.users-file = "{{users}}"
                    }
                    """,
            });
            Ipv6EndPoint = new IPEndPoint(IPAddress.IPv6Loopback, ipv6Port);
            await Router.WaitForOutputAsync("router: admin", Deadline);
            Admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        }

        public async Task DisposeAsync()
        {
            Admin?.Dispose();
            Router?.Dispose();
            await _dns.DisposeAsync();
            _folder.Delete(recursive: true);
        }
    }

    private async Task<SmtpDialog> ConnectAsync(IPAddress from, string helo = "client.test")
    {
        var dialog = await SmtpDialog.ConnectAsync(world.Router.Port, from);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO " + helo, "250");
        return dialog;
    }

    [Fact]
    public async Task A_listed_client_gets_554_at_RCPT_naming_the_zone_and_the_lists_text()
    {
        var sender = TestMessages.NewToken() + "@client.test";
        await using var c = await ConnectAsync(Listed, "listed.client.test");
        await c.CommandAsync($"MAIL FROM:<{sender}>", "250");
        var reply = await c.CommandAsync("RCPT TO:<alice@example.test>", "554");

        Assert.Equal("554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; listed for testing", Assert.Single(reply.Lines));
        await c.CommandAsync("DATA", "503");
        await world.Router.WaitForOutputAsync(
            $"NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; listed for testing; from=<{sender}> to=<alice@example.test> proto=ESMTP helo=<listed.client.test>",
            Deadline);
    }

    [Fact]
    public async Task A_refusal_is_counted_for_its_zone_and_as_a_refused_recipient()
    {
        var before = await MetricsAsync();
        await using (var c = await ConnectAsync(Listed))
        {
            await c.CommandAsync("MAIL FROM:<a@client.test>", "250");
            await c.CommandAsync("RCPT TO:<alice@example.test>", "554 5.7.1");
            await c.CommandAsync("RCPT TO:<bob@example.test>", "554 5.7.1");
            await c.CommandAsync("QUIT", "221");
        }

        var after = await UntilAsync("router_dnsbl_hits_total{zone=\"bl.test\"}", before["router_dnsbl_hits_total{zone=\"bl.test\"}"] + 2);
        Assert.Equal(before["router_smtp_recipients_rejected_total"] + 2, after["router_smtp_recipients_rejected_total"]);
        Assert.Equal(before["router_dnsbl_hits_total{zone=\"codes.test\"}"], after["router_dnsbl_hits_total{zone=\"codes.test\"}"]);
        Assert.Equal(0, after["router_dnsbl_lookup_failures_total{zone=\"bl.test\"}"]);
    }

    [Fact]
    public async Task Postmaster_still_takes_mail_from_a_listed_client()
    {
        var token = TestMessages.NewToken();
        await using var c = await ConnectAsync(Listed);
        await c.CommandAsync("MAIL FROM:<a@client.test>", "250");
        await c.CommandAsync("RCPT TO:<alice@example.test>", "554 5.7.1");
        await c.CommandAsync("RCPT TO:<PostMaster@example.test>", "250");
        await c.CommandAsync("RCPT TO:<Postmaster>", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token, "postmaster@example.test"));
        await c.CommandAsync(".", "250");

        // postmaster@example.test is an alias of carol's mailbox.
        Assert.Single(world.Router.Mailbox("carol@example.test").NewMessagesContaining(token));
        Assert.Empty(world.Router.Mailbox("alice@example.test").NewMessagesContaining(token));
    }

    [Fact]
    public async Task A_recipient_at_another_domain_is_still_refused_as_relaying()
    {
        // reject_unauth_destination comes before reject_rbl_client in Postfix's list; bl.test was asked all the same.
        await using var c = await ConnectAsync(Listed);
        await c.CommandAsync("MAIL FROM:<a@client.test>", "250");
        await c.CommandAsync("RCPT TO:<friend@remote.test>", "554 5.7.1 Relay access denied");
        await c.CommandAsync("RCPT TO:<alice@example.test>", "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test");
    }

    [Fact]
    public async Task An_unlisted_client_delivers_after_its_lookups()
    {
        var token = TestMessages.NewToken();
        await using (var c = await ConnectAsync(IPAddress.Parse("127.0.0.7")))
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token), "a@client.test", ["alice@example.test"]);
        }

        Assert.Single(world.Router.Mailbox("alice@example.test").NewMessagesContaining(token));
        await UntilLoggedAsync("query[A] 7.0.0.127.bl.test from");
        await UntilLoggedAsync("query[A] 7.0.0.127.codes.test from");
    }

    [Fact]
    public async Task An_answer_outside_the_zones_result_filter_lets_the_client_through()
    {
        // codes.test answers 127.0.0.12 for 127.0.0.3; the router counts only 127.0.0.[2..11].
        var token = TestMessages.NewToken();
        await using (var c = await ConnectAsync(IPAddress.Parse("127.0.0.3")))
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token), "a@client.test", ["alice@example.test"]);
        }

        Assert.Single(world.Router.Mailbox("alice@example.test").NewMessagesContaining(token));
        await UntilLoggedAsync("config 3.0.0.127.codes.test is 127.0.0.12");
    }

    [Fact]
    public async Task Trusted_networks_are_never_looked_up_and_untrusted_clients_are()
    {
        // 127.0.0.1 (trusted) is listed in bl.test too.
        var token = TestMessages.NewToken();
        await using (var trusted = await ConnectAsync(IPAddress.Loopback))
        {
            await TestMessages.SendAsync(trusted, TestMessages.Create(token), "a@client.test", ["alice@example.test"]);
        }
        await using (var untrusted = await ConnectAsync(IPAddress.Parse("127.0.0.8")))
        {
            await untrusted.CommandAsync("MAIL FROM:<a@client.test>", "250");
            await untrusted.CommandAsync("RCPT TO:<alice@example.test>", "250");
        }

        Assert.Single(world.Router.Mailbox("alice@example.test").NewMessagesContaining(token));
        // dnsmasq logs queries in the order they came: the later client's is there, the trusted one's never was.
        await UntilLoggedAsync("query[A] 8.0.0.127.bl.test from");
        Assert.DoesNotContain(" 1.0.0.127.bl.test ", world.DnsLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submission_clients_are_never_looked_up_and_MTA_clients_are()
    {
        await using (var submission = await SmtpDialog.ConnectAsync(world.SubmissionPort, IPAddress.Parse("127.0.0.10")))
        {
            await submission.ExpectAsync("220");
            await submission.CommandAsync("EHLO client.test", "250");
            await submission.CommandAsync("QUIT", "221");
        }
        await using (var mta = await ConnectAsync(IPAddress.Parse("127.0.0.11")))
        {
            await mta.CommandAsync("MAIL FROM:<a@client.test>", "250");
            await mta.CommandAsync("RCPT TO:<alice@example.test>", "250");
        }

        await UntilLoggedAsync("query[A] 11.0.0.127.bl.test from");
        Assert.DoesNotContain(" 10.0.0.127.bl.test ", world.DnsLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_authenticated_on_the_MTA_port_is_not_refused()
    {
        // Postfix's permit_sasl_authenticated comes before reject_rbl_client.
        await using var c = await TlsDialog.ConnectWithStartTlsAsync(world.Router.Port, Listed);
        await c.CommandAsync("MAIL FROM:<alice@example.test>", "250");
        await c.CommandAsync("RCPT TO:<bob@example.test>", "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test");
        await c.CommandAsync("RSET", "250");
        await c.CommandAsync("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice@example.test\0{Password}")), "235");
        await c.CommandAsync("MAIL FROM:<alice@example.test>", "250");
        await c.CommandAsync("RCPT TO:<bob@example.test>", "250");
    }

    [Fact]
    public async Task An_IPv6_client_is_looked_up_by_its_nibbles()
    {
        await using var c = await SmtpDialog.ConnectAsync(world.Ipv6EndPoint, IPAddress.IPv6Loopback);
        await c.ExpectAsync("220");
        await c.CommandAsync("EHLO v6.client.test", "250");
        await c.CommandAsync("MAIL FROM:<a@client.test>", "250");
        var reply = await c.CommandAsync("RCPT TO:<alice@example.test>", "554");

        Assert.Equal("554 5.7.1 Service unavailable; Client host [::1] blocked using bl.test; v6 listed", Assert.Single(reply.Lines));
    }

    private Task<Dictionary<string, long>> MetricsAsync() => AdminMetrics.ReadAsync(world.Admin);

    /// <summary>/metrics once <paramref name="name"/> reads <paramref name="expected"/>; fails if it goes past it.</summary>
    private async Task<Dictionary<string, long>> UntilAsync(string name, long expected)
    {
        var metrics = new Dictionary<string, long>();
        await Eventually.UntilAsync(async () => (metrics = await MetricsAsync()).GetValueOrDefault(name) >= expected, Deadline, $"{name} to reach {expected}");
        Assert.Equal(expected, metrics[name]);
        return metrics;
    }

    private Task UntilLoggedAsync(string text) =>
        Eventually.TrueAsync(() => world.DnsLog.Contains(text, StringComparison.Ordinal), Deadline, () => $"'{text}' in dnsmasq's log:\n{world.DnsLog}");
}
