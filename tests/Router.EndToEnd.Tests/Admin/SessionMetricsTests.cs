using System.Net;
using System.Text;
using Router.Actors.Security;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Security;

namespace Router.EndToEnd.Tests.Admin;

/// <summary>
/// The refusals an operator alerts on, counted on /metrics as the log lines that report them:
/// every RCPT refused, 4xx or 5xx (router_smtp_recipients_rejected_total, one per
/// "NOQUEUE: reject: RCPT" line), and every AUTH refused with 535 (router_smtp_auth_failures_total,
/// one per "SASL ... authentication failed" line). Accepted recipients, successful AUTH and other
/// AUTH errors are not counted. Each test counts from what /metrics says before it.
/// </summary>
public sealed class SessionMetricsTests(SessionMetricsTests.Fixture fixture) : IClassFixture<SessionMetricsTests.Fixture>
{
    private const string Password = "alice-Secret-1";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly IPAddress Untrusted = IPAddress.Parse("127.0.0.2");

    public sealed class Fixture : IAsyncLifetime
    {
        private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("router-metrics-");

        public RouterProcess Router { get; private set; } = null!;

        public int SubmissionPort { get; } = TestPorts.Next();

        public HttpClient Admin { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var users = Path.Combine(_folder.FullName, "users");
            new UserStore(users).Set("alice@example.test", Password, iterations: 1000);
            var http = TestPorts.Next();
            Router = await RouterProcess.StartAsync(new RouterOptions
            {
                TrustedNetworks = ["127.0.0.1/32"],
                MaxRecipients = 2,
                ExtraHocon = $$"""
                    router {
                      http.endpoint = "127.0.0.1:{{http}}"
                      smtp.submission-endpoints = ["127.0.0.1:{{SubmissionPort}}"]
                      auth.users-file = "{{users}}"
                    }
                    """,
            });
            await Router.WaitForOutputAsync("router: admin", Deadline);
            Admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        }

        public Task DisposeAsync()
        {
            Admin?.Dispose();
            Router?.Dispose();
            _folder.Delete(recursive: true);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Every_refused_RCPT_is_counted_4xx_and_5xx_alike()
    {
        var before = await CounterAsync("router_smtp_recipients_rejected_total");
        await using (var dialog = await SmtpDialog.ConnectAsync(fixture.Router.Port, Untrusted))
        {
            await dialog.ExpectAsync("220");
            await dialog.CommandAsync("EHLO client.test", "250");
            await dialog.CommandAsync("RCPT TO:<alice@example.test>", "503 5.5.1");
            await dialog.CommandAsync("MAIL FROM:<someone@remote.test>", "250");
            await dialog.CommandAsync("RCPT TO:<nobody@example.test>", "550 5.1.1");
            await dialog.CommandAsync("RCPT TO:<friend@remote.test>", "554 5.7.1");
            await dialog.CommandAsync("RCPT TO:<alice@example.test>", "250");
            await dialog.CommandAsync("RCPT TO:<bob@example.test>", "250");
            await dialog.CommandAsync("RCPT TO:<carol@example.test>", "452 4.5.3");
            await dialog.CommandAsync("QUIT", "221");
        }

        await UntilCounterAsync("router_smtp_recipients_rejected_total", before + 4);
    }

    [Fact]
    public async Task Every_AUTH_refused_with_535_is_counted()
    {
        var before = await CounterAsync("router_smtp_auth_failures_total");
        await using (var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, IPAddress.Parse("127.0.0.181")))
        {
            await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", "wrong-1"), "535 5.7.8");
            await dialog.CommandAsync("AUTH LOGIN", "334");
            await dialog.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes("nobody@example.test")), "334");
            await dialog.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes("wrong-2")), "535 5.7.8");
            await dialog.CommandAsync("AUTH CRAM-MD5", "504 5.5.4"); // not an attempt at a password
            await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", Password), "235 2.7.0");
            await dialog.CommandAsync("QUIT", "221");
        }

        await UntilCounterAsync("router_smtp_auth_failures_total", before + 2);
    }

    private static string Plain(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));

    private async Task<long> CounterAsync(string name) =>
        (await AdminMetrics.ReadAsync(fixture.Admin)).TryGetValue(name, out var value) ? value : throw new Xunit.Sdk.XunitException($"/metrics has no {name}");

    /// <summary>Waits until the counter reads <paramref name="expected"/>, then checks it stays there (no double count).</summary>
    private async Task UntilCounterAsync(string name, long expected)
    {
        var seen = -1L;
        await Eventually.UntilAsync(async () => (seen = await CounterAsync(name)) >= expected, Deadline, $"{name} to reach {expected}");
        Assert.Equal(expected, seen);
    }
}
