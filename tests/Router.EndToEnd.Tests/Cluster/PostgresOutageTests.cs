using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Npgsql;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Relay;
using Router.LoadTest.Sink;
using Xunit.Abstractions;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// PostgreSQL goes away (pg_ctl -m fast) while journal writes of several domain queues are in
/// flight, stays away for a while and comes back. Sessions must hear a prompt 451 while it is
/// away, none of them a 250 (their envelopes were never committed), and every domain must take
/// mail again within seconds of its return, not after Akka.Persistence's circuit breakers' own
/// reset time (30 s journal, 60 s snapshot store by default). A router of its own on a PostgreSQL
/// of its own: stopping the shared cluster's server would disturb the other tests. It runs in the
/// cluster collection, alone: it holds the router to timing.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PostgresOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>More domains with a write in flight than the journal breaker's max-failures (10): the breaker opens during the outage.</summary>
    private const int DomainCount = 12;

    /// <summary>Long enough for the restarted domain entities to fail their recovery against the stopped server (sharding restarts a remembered entity after 10 s).</summary>
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(15);

    /// <summary>What "prompt" means for a 451 while the database is away (the acknowledgement timeout is 30 s).</summary>
    private static readonly TimeSpan PromptRefusal = TimeSpan.FromSeconds(5);

    /// <summary>How soon after PostgreSQL accepts connections again every domain must accept mail.</summary>
    private static readonly TimeSpan BackWithin = TimeSpan.FromSeconds(10);

    private static readonly string[] Domains = Enumerable.Range(0, DomainCount).Select(i => $"outage{i}.test").ToArray();

    private readonly PostgresFixture _postgres = new();
    private SmtpSink _sink = null!;
    private RouterProcess _router = null!;

    public async Task InitializeAsync()
    {
        await _postgres.StartAsync();
        _sink = await TestSinks.StartAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var routes = string.Join("\n", Domains.Select(d => $"      \"{d}\" = \"127.0.0.1:{_sink.EndPoint.Port}\""));
        _router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router {
                  queue {
                    store = "postgresql"
                    connection-string = "{{_postgres.ConnectionString}}"
                    retry-schedule = [1s, 2s]
                  }
                  relay.transport {
                {{routes}}
                  }
                }
                """,
        });
    }

    /// <summary>With ROUTER_TEST_LOGS=folder, the router's whole output is kept there, for a post-mortem.</summary>
    public async Task DisposeAsync()
    {
        if (_router is not null && Environment.GetEnvironmentVariable("ROUTER_TEST_LOGS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, $"postgres-outage-port{_router.Port}.log"), _router.Output);
        }
        _router?.Dispose();
        if (_sink is not null) await _sink.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task After_an_outage_with_journal_writes_in_flight_every_domain_takes_mail_within_seconds_and_451_comes_at_once_meanwhile()
    {
        var token = TestMessages.NewToken();
        var serial = 0;
        string Message(string phase = "before") => $"{token}-{phase}-{Interlocked.Increment(ref serial)}";

        // Every domain's queue entity is running and remembered, with an empty queue. (A 451 on
        // the cold start, the first writes slower than the acknowledgement timeout, is retried.)
        var warm = Stopwatch.StartNew();
        await Task.WhenAll(Domains.Select(async domain =>
        {
            while (!(await SendTimedAsync(domain, Message(), warm)).Reply.StartsWith("250", StringComparison.Ordinal))
            {
                Assert.True(warm.Elapsed < TimeSpan.FromSeconds(90), $"{domain} accepted nothing before the outage\n{RouterProblems()}");
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
        }));
        await Eventually.TrueAsync(() => _sink.MessagesWith(token).Length >= DomainCount, TimeSpan.FromSeconds(30),
            () => $"{_sink.MessagesWith(token).Length} of {DomainCount} warm-up messages at the sink");

        // Journal writes in flight: a trigger holds every journal insert inside its transaction
        // (sleeping while test_gate_closed has a row), one message per domain is sent, and
        // PostgreSQL stops once their bodies are stored (the relay asks the domains only then) and
        // a journal write is held. A write held in a statement fails when the server stops; one
        // waiting for a table lock could be let through, and commit, by the lock holder's backend
        // ending first (this test once saw 250s for in-flight messages that way).
        await ExecuteAsync("""
            CREATE TABLE test_gate_closed (closed boolean);
            INSERT INTO test_gate_closed VALUES (true);
            CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              WHILE EXISTS (SELECT 1 FROM test_gate_closed) LOOP PERFORM pg_sleep(0.05); END LOOP;
              RETURN NEW;
            END $$;
            CREATE TRIGGER test_gate BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION test_gate();
            """);
        {
            var inFlight = new List<SmtpDialog>();
            foreach (var domain in Domains)
            {
                var dialog = await _router.ConnectEhloAsync();
                dialog.Timeout = TimeSpan.FromSeconds(45);
                inFlight.Add(dialog);
                await dialog.CommandAsync("MAIL FROM:<sender@remote.test>", "250");
                await dialog.CommandAsync($"RCPT TO:<y@{domain}>", "250");
                await dialog.CommandAsync("DATA", "354");
                await dialog.SendAsync(TestMessages.Create(Message("in-flight"), "y@" + domain));
                await dialog.SendAsync(".\r\n");
            }
            // Counted by content: a warm-up message that got 451 on the cold start left its body
            // behind, and a delivered one's release may itself wait for a held journal write.
            await Eventually.UntilAsync(async () => await ScalarAsync($"SELECT count(*) FROM router_body_refs r JOIN router_bodies b USING (queue_id) WHERE r.owner = ANY(@domains) AND position(convert_to('{token}-in-flight', 'UTF8') in b.data) > 0") == DomainCount
                    && await ScalarAsync("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") > 0,
                TimeSpan.FromSeconds(30), "every body stored and a journal write held");

            var clock = Stopwatch.StartNew();
            await _postgres.StopServerAsync();
            var down = clock.Elapsed;
            output.WriteLine($"PostgreSQL stopped in {down.TotalSeconds:0.0} s");
            var inFlightReplies = inFlight.Select(async dialog =>
            {
                await using (dialog)
                {
                    try
                    {
                        var reply = await dialog.ReadReplyAsync();
                        return (Reply: reply.Lines[^1], After: clock.Elapsed - down);
                    }
                    catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException)
                    {
                        return (Reply: "no reply: " + e.Message, After: clock.Elapsed - down);
                    }
                }
            }).ToArray();

            // A message arriving while the database is away.
            var (whileDown, whileDownAfter) = await SendTimedAsync(Domains[0], Message(), clock);
            output.WriteLine($"while down: '{whileDown}' after {whileDownAfter.TotalSeconds:0.0} s");

            var remaining = Outage - (clock.Elapsed - down);
            if (remaining > TimeSpan.Zero) await Task.Delay(remaining); // the outage itself, not a synchronisation
            await _postgres.StartServerAgainAsync();
            // The gate's row survived the restart: opened at once (the test's plumbing, not the router's).
            await ExecuteAsync("DELETE FROM test_gate_closed; DROP TRIGGER test_gate ON journal");
            var up = clock.Elapsed;
            output.WriteLine($"PostgreSQL back after {(up - down).TotalSeconds:0.0} s");

            // Like a client retrying: each domain gets a message until it says 250 (a 451 means try again).
            var back = await Task.WhenAll(Domains.Select(async domain =>
            {
                var tries = new List<string>();
                while (clock.Elapsed - up < TimeSpan.FromSeconds(60))
                {
                    var (reply, _) = await SendTimedAsync(domain, Message("after"), clock);
                    tries.Add(reply);
                    if (reply.StartsWith("250", StringComparison.Ordinal)) return (Domain: domain, After: clock.Elapsed - up, Tries: tries);
                    await Task.Delay(TimeSpan.FromMilliseconds(500));
                }
                return (Domain: domain, After: TimeSpan.MaxValue, Tries: tries);
            }));
            var replies = await Task.WhenAll(inFlightReplies);

            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"in flight at the stop: {string.Join("; ", replies.Select(r => $"'{r.Reply}' after {r.After.TotalSeconds:0.0} s"))}");
            report.AppendLine(CultureInfo.InvariantCulture, $"while down: '{whileDown}' after {whileDownAfter.TotalSeconds:0.0} s");
            var backAfter = string.Join("; ", back.Select(b => $"{b.Domain} {(b.After == TimeSpan.MaxValue ? "never" : $"{b.After.TotalSeconds:0.0} s")} ({b.Tries.Count} tries)"));
            report.AppendLine(CultureInfo.InvariantCulture, $"outage {(up - down).TotalSeconds:0.0} s; accepted again after PostgreSQL's return: {backAfter}");
            output.WriteLine(report.ToString());
            var context = report + "\n" + RouterProblems();

            Assert.All(replies, r => Assert.True(r.Reply.StartsWith("451", StringComparison.Ordinal) && r.After < PromptRefusal,
                $"a message whose journal write was in flight must get 451 within {PromptRefusal.TotalSeconds} s of the outage:\n{context}"));
            Assert.True(whileDown.StartsWith("451", StringComparison.Ordinal) && whileDownAfter < PromptRefusal,
                $"a message sent while PostgreSQL is down must get 451 within {PromptRefusal.TotalSeconds} s:\n{context}");
            Assert.All(back, b => Assert.True(b.After < BackWithin,
                $"{b.Domain} must accept mail within {BackWithin.TotalSeconds} s of PostgreSQL's return:\n{context}"));
        }

        // The queues work again: what they accepted after the outage reaches the sink.
        await Eventually.TrueAsync(() => _sink.MessagesWith(token + "-after-").Length >= DomainCount, TimeSpan.FromSeconds(30),
            () => $"{_sink.MessagesWith(token + "-after-").Length} of the {DomainCount} messages accepted after the outage at the sink\n{RouterProblems()}");
    }

    /// <summary>One message on a fresh connection: the reply to its final dot (or why there was none) and when it came.</summary>
    private async Task<(string Reply, TimeSpan At)> SendTimedAsync(string domain, string id, Stopwatch clock)
    {
        var sent = clock.Elapsed;
        try
        {
            await using var dialog = await _router.ConnectEhloAsync();
            dialog.Timeout = TimeSpan.FromSeconds(45);
            await dialog.CommandAsync("MAIL FROM:<sender@remote.test>", "250");
            await dialog.CommandAsync($"RCPT TO:<z@{domain}>", "250");
            await dialog.CommandAsync("DATA", "354");
            await dialog.SendAsync(TestMessages.Create(id, "z@" + domain));
            await dialog.SendAsync(".\r\n");
            var reply = await dialog.ReadReplyAsync();
            return (reply.Lines[^1], clock.Elapsed - sent);
        }
        catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            return ("no reply: " + e.Message, clock.Elapsed - sent);
        }
    }

    /// <summary>On a connection of its own: a pooled one from before the restart would be dead.</summary>
    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_postgres.ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("domains", Domains);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The router's warnings and errors (the last 40), for a failure message.</summary>
    private string RouterProblems() => string.Join("\n", _router.Output.Split('\n')
        .Where(l => l.StartsWith("[WARNING]", StringComparison.Ordinal) || l.StartsWith("[ERROR]", StringComparison.Ordinal))
        .Select(l => l.Length > 400 ? l[..400] : l.TrimEnd('\r'))
        .TakeLast(40));
}
