using System.Globalization;
using System.Text.RegularExpressions;
using MimeKit.Utils;
using Router.Actors.Storage;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Temporary failures (RFC 5321 s4.5.4.1), retried every second: a 451 is retried and delivered
/// once the server recovers; a server that keeps deferring earns the sender one delay notice and
/// then a bounce with the last error (RFC 3464 Action: delayed, then failed) from the router whose
/// clock is compressed (warn after 2 s, give up after 5 s).
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed partial class DeferralTests(RelayWorldFixture world)
{
    private const string Sender = "bob@example.test";

    [Fact]
    public async Task Temporary_failure_is_retried_until_delivered()
    {
        var token = TestMessages.NewToken();
        var refusing = world.Sink("retry");
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, "user@retry.relay.test"), Sender, ["user@retry.relay.test"]);
        }
        await refusing.WaitUntilAsync(s => s.RecipientsTempFailed >= 1, TimeSpan.FromSeconds(10));

        var recovered = await world.ReplaceSinkAsync("retry");

        await Eventually.TrueAsync(() => recovered.MessagesWith(token).Length > 0, TimeSpan.FromSeconds(10), () => $"retry sink stats {recovered.Stats}");
        var delivered = Assert.Single(recovered.MessagesWith(token));
        Assert.Equal(["user@retry.relay.test"], delivered.Recipients);
        Assert.Empty(world.Router.Mailbox(Sender).NewMessagesContaining(token));
    }

    [Fact]
    public async Task Persistent_deferral_sends_one_delay_notice_then_a_bounce_with_the_last_error_and_logs_both()
    {
        var token = TestMessages.NewToken();
        var router = world.Expiring;
        var sent = DateTimeOffset.UtcNow;
        string id;
        await using (var c = await router.ConnectEhloAsync())
        {
            id = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(token, "user@delay.relay.test"), Sender, ["user@delay.relay.test"]));
        }

        var failed = await Eventually.ValueAsync(
            () => DsnReport.FindAll(router, Sender, token).FirstOrDefault(d => d.PerRecipient.Any(r => r["Action"] == "failed")),
            RelayWorldFixture.GiveUpAfter + TimeSpan.FromSeconds(20),
            () => $"a bounce for {token}; router output:\n{router.Output}");
        var bouncedAfter = DateTimeOffset.UtcNow - sent;

        var reports = DsnReport.FindAll(router, Sender, token);
        Assert.Equal(2, reports.Count);
        var delayed = Assert.Single(reports, d => d.PerRecipient.Any(r => r["Action"] == "delayed"));

        var notice = Assert.Single(delayed.PerRecipient);
        Assert.Equal("delayed", notice["Action"]);
        Assert.StartsWith("4.", notice["Status"], StringComparison.Ordinal);
        Assert.Contains("451", notice["Diagnostic-Code"], StringComparison.Ordinal);
        Assert.NotNull(notice["Will-Retry-Until"]);
        Assert.Equal("<>", delayed.ReturnPath);

        var bounce = Assert.Single(failed.PerRecipient);
        Assert.Equal("failed", bounce["Action"]);
        // RFC 3463 5.4.7: delivery time expired; the Diagnostic-Code is the last reply the server gave.
        Assert.Equal("5.4.7", bounce["Status"]);
        Assert.StartsWith("smtp; 451", bounce["Diagnostic-Code"], StringComparison.Ordinal);
        Assert.Contains("Temporary failure (sink)", bounce["Diagnostic-Code"] + failed.Explanation, StringComparison.Ordinal);
        // The readable part says the delivery time expired, in words, then what the server said last.
        Assert.Contains(
            "<user@delay.relay.test>: Delivery time expired after 5 seconds; last reply: host mx.delay.relay.test said: 451 4.3.0 Temporary failure (sink)",
            failed.Explanation,
            StringComparison.Ordinal);
        Assert.Equal("<>", failed.ReturnPath);
        Assert.True(bouncedAfter >= RelayWorldFixture.GiveUpAfter, $"bounced after {bouncedAfter}, before give-up-after {RelayWorldFixture.GiveUpAfter}");
        // The delay notice came first, after warn-after.
        Assert.True(File.GetLastWriteTimeUtc(delayed.File) <= File.GetLastWriteTimeUtc(failed.File));
        await Eventually.TrueAsync(() => !SpoolHolds(router, "delay.relay.test"), TimeSpan.FromSeconds(5), () => "the spool still holds the expired message");

        // The log links the message to both notices, as Postfix's does: "status=expired, returned
        // to sender", then "sender delay notification: ID" and "sender non-delivery notification: ID".
        // The expiry is the outcome of an attempt made at the give-up time (Postfix's
        // maximal_queue_lifetime), so it names the host that deferred it, not relay=none.
        var expired = new Regex($@"{id}: to=<user@delay\.relay\.test> relay=mx\.delay\.relay\.test status=Expired, returned to sender \(451 4\.3\.0 Temporary failure \(sink\)\)");
        await Eventually.TrueAsync(() => expired.IsMatch(router.Output), TimeSpan.FromSeconds(10), () => $"a status=Expired line for {id}; router output:\n{router.Output}");
        // Last-Attempt-Date is when the last attempt ended (its log line, to the second), not when the
        // bounce was made. That attempt is the one that expired the message: its line may reach the
        // output after the bounce reached the mailbox, hence after the wait above.
        Assert.True(DateUtils.TryParse(bounce["Last-Attempt-Date"], out var lastAttempt), $"Last-Attempt-Date: {bounce["Last-Attempt-Date"]}");
        var lastAttemptLogged = LogTimes(router, $"{id}: to=<user@delay.relay.test> relay=mx.delay.relay.test status=").Last();
        Assert.InRange(lastAttempt, lastAttemptLogged.AddSeconds(-1), lastAttemptLogged);
        await router.WaitForOutputAsync($"{id}: sender delay notification: {delayed.QueueId}", TimeSpan.FromSeconds(10));
        await router.WaitForOutputAsync($"{id}: sender non-delivery notification: {failed.QueueId}", TimeSpan.FromSeconds(10));
        Assert.NotEqual(delayed.QueueId, failed.QueueId);
    }

    [Fact]
    public async Task A_refused_connection_is_the_X_Router_diagnostic_code_of_the_delay_notice_and_the_bounce()
    {
        // No server replied, so no Remote-MTA and no smtp diagnostic: the reason is ours (RFC 3464
        // s2.3.6), as Postfix's "Diagnostic-Code: X-Postfix; connect to host[ip]:port: Connection refused".
        var token = TestMessages.NewToken();
        var router = world.Expiring;
        await using (var c = await router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, "user@refused.relay.test"), Sender, ["user@refused.relay.test"]);
        }

        var failed = await Eventually.ValueAsync(
            () => DsnReport.FindAll(router, Sender, token).FirstOrDefault(d => d.PerRecipient.Any(r => r["Action"] == "failed")),
            RelayWorldFixture.GiveUpAfter + TimeSpan.FromSeconds(20),
            () => $"a bounce for {token}; router output:\n{router.Output}");
        var delayed = Assert.Single(DsnReport.FindAll(router, Sender, token), d => d.PerRecipient.Any(r => r["Action"] == "delayed"));

        var notice = Assert.Single(delayed.PerRecipient);
        Assert.Null(notice["Remote-MTA"]);
        Assert.StartsWith("X-Router; mx.refused.relay.test [127.0.77.3]: ", notice["Diagnostic-Code"], StringComparison.Ordinal);
        Assert.Contains("refused", notice["Diagnostic-Code"], StringComparison.OrdinalIgnoreCase);
        var bounce = Assert.Single(failed.PerRecipient);
        Assert.Equal("5.4.7", bounce["Status"]);
        Assert.Null(bounce["Remote-MTA"]);
        Assert.StartsWith("X-Router; Delivery time expired after 5 seconds; last error: mx.refused.relay.test [127.0.77.3]: ", bounce["Diagnostic-Code"], StringComparison.Ordinal);
        Assert.Contains("refused", bounce["Diagnostic-Code"], StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The times of the router's log lines that contain <paramref name="text"/> ("[INFO][11/30/2026 11:41:10.608Z]...").</summary>
    private static DateTimeOffset[] LogTimes(RouterProcess router, string text) => router.Output.Split('\n')
        .Where(line => line.Contains(text, StringComparison.Ordinal))
        .Select(line => LogTime().Match(line))
        .Where(m => m.Success)
        .Select(m => new DateTimeOffset(DateTime.ParseExact(m.Groups[1].Value, "MM/dd/yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture), TimeSpan.Zero))
        .ToArray();

    [GeneratedRegex(@"^\[\w+\]\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\.\d{3})Z\]")]
    private static partial Regex LogTime();

    /// <summary>True while the spool holds a body for the domain (as a restart would recover it).</summary>
    internal static bool SpoolHolds(RouterProcess router, string domain) => SpoolReferences(router, domain) > 0;

    internal static int SpoolReferences(RouterProcess router, string domain) =>
        SpoolLog.ReadReferences(Path.Combine(router.DataDir, "spool")).Count(r => r.Owner == domain);
}
