using System.Diagnostics;
using System.Net;
using System.Text;
using Npgsql;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Relay;
using Router.LoadTest.Sink;
using Xunit.Abstractions;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// Message bodies in PostgreSQL (cluster mode) of messages that were not accepted: a message
/// refused with 451 after its body and references were stored gives its references back, and
/// what a database outage kept it from giving back is swept once the database is back, while the
/// body of a message still queued survives every sweep and is delivered later. Each test runs one
/// router on a PostgreSQL server of its own (one test stops it).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BodySweepTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Mailbox = "demo@example.test";
    private const string MailboxOwner = "mailbox:" + Mailbox;

    /// <summary>The session's acknowledgement timeout: a body's acceptance deadline is this long after it was stored.</summary>
    private const string AckTimeout = "10s";

    /// <summary>A sweep every second, judging references a second past their deadline.</summary>
    private const string QuickSweep = "body-sweep-interval = 1s, body-sweep-grace = 1s";

    private readonly PostgresFixture _postgres = new();
    private readonly List<SmtpSink> _sinks = [];
    private RouterProcess? _router;

    public Task InitializeAsync() => _postgres.StartAsync();

    public async Task DisposeAsync()
    {
        if (_router is not null && Environment.GetEnvironmentVariable("ROUTER_TEST_LOGS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, $"body-sweep-port{_router.Port}.log"), _router.Output);
        }
        _router?.Dispose();
        foreach (var sink in _sinks) await sink.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task A_message_refused_after_its_body_was_stored_gives_its_references_back()
    {
        // The default sweep (every 10 minutes, an hour's grace) cannot be what removes them here.
        var router = await StartRouterAsync(sweep: "", routes: "");
        await LogReferencesAsync();
        // The mailbox cannot write its copy (its tmp/ is a file): its delivery fails after the
        // relay stored the body with the mailbox's reference.
        var maildir = router.Mailbox(Mailbox).Path;
        Directory.CreateDirectory(maildir);
        await File.WriteAllTextAsync(Path.Combine(maildir, "tmp"), "not a folder");

        var token = TestMessages.NewToken();
        await using (var c = await router.ConnectEhloAsync())
        {
            c.Timeout = TimeSpan.FromSeconds(60);
            await TestMessages.SendAsync(c, TestMessages.Create(token, Mailbox), "sender@remote.test", [Mailbox], final: "451");
        }
        var queueId = await StoredQueueIdAsync(MailboxOwner);

        await Eventually.UntilAsync(async () => await RowsOfAsync(queueId) == 0, TimeSpan.FromSeconds(20),
            $"the references and body of {queueId}, refused with 451, to go ({await DescribeRowsAsync(queueId)})");
        Assert.Contains((queueId, MailboxOwner, "released"), await ReferenceLogAsync());
    }

    [Fact]
    public async Task References_a_database_outage_kept_a_refused_message_from_giving_back_are_swept_once_it_is_back()
    {
        var sink = await StartSinkAsync();
        const string Domain = "outage.test";
        var router = await StartRouterAsync(QuickSweep, $"\"{Domain}\" = \"127.0.0.1:{sink.EndPoint.Port}\"");
        // The mailbox and the domain's queue run, and the journal is warm (a 451 on the cold start is retried).
        await SendUntilAcceptedAsync(router, [Mailbox, "w@" + Domain], TimeSpan.FromSeconds(90));
        await LogReferencesAsync();
        // Gates the test closes: the mailbox's release (after its Maildir copy) and every journal
        // write (the domain's envelope) wait in a sleep loop while test_gate_closed has a row. A
        // statement waiting there fails when PostgreSQL stops; one waiting for a lock could be
        // let through, and commit, by the lock holder's backend ending first.
        await ExecuteAsync("""
            CREATE TABLE test_gate_closed (closed boolean);
            INSERT INTO test_gate_closed VALUES (true);
            CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              WHILE EXISTS (SELECT 1 FROM test_gate_closed) LOOP PERFORM pg_sleep(0.05); END LOOP;
              IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER test_gate BEFORE DELETE ON router_body_refs FOR EACH ROW
              WHEN (OLD.owner LIKE 'mailbox:%') EXECUTE FUNCTION test_gate();
            CREATE TRIGGER test_gate BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION test_gate();
            """);

        var token = TestMessages.NewToken();
        string queueId;
        SmtpResponse reply;
        await using (var dialog = await router.ConnectEhloAsync())
        {
            dialog.Timeout = TimeSpan.FromSeconds(60);
            await dialog.CommandAsync("MAIL FROM:<sender@remote.test>", "250");
            await dialog.CommandAsync($"RCPT TO:<{Mailbox}>", "250");
            await dialog.CommandAsync($"RCPT TO:<y@{Domain}>", "250");
            await dialog.CommandAsync("DATA", "354");
            await dialog.SendAsync(TestMessages.Create(token, Mailbox));
            await dialog.SendAsync(".\r\n");

            queueId = await StoredQueueIdAsync(MailboxOwner);
            await Eventually.UntilAsync(async () => await ScalarAsync("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") >= 2,
                TimeSpan.FromSeconds(30), "the mailbox's release and the envelope's journal write waiting at the gates");

            await _postgres.StopServerAsync();
            reply = await dialog.ReadReplyAsync();
        }
        output.WriteLine($"{queueId}: '{reply.Lines[^1]}' while PostgreSQL was down");
        Assert.StartsWith("451", reply.Lines[^1], StringComparison.Ordinal);

        await _postgres.StartServerAgainAsync();
        var back = Stopwatch.StartNew();
        await ExecuteAsync("DELETE FROM test_gate_closed; DROP TRIGGER test_gate ON router_body_refs; DROP TRIGGER test_gate ON journal");
        await Eventually.UntilAsync(async () => await RowsOfAsync(queueId) == 0, TimeSpan.FromSeconds(60),
            $"the references and body of {queueId}, refused during the outage, to be swept ({await DescribeRowsAsync(queueId)})\n{RouterProblems(router)}");
        output.WriteLine($"swept {back.Elapsed.TotalSeconds:0.0} s after PostgreSQL's return");
        var log = await ReferenceLogAsync();
        Assert.Contains((queueId, MailboxOwner, "released"), log);
        Assert.Contains((queueId, Domain, "released"), log);
    }

    [Fact]
    public async Task The_body_of_a_deferred_message_survives_the_sweep_and_is_delivered_later()
    {
        const string Domain = "later.test";
        var refusing = await StartSinkAsync(".*=451");
        var port = refusing.EndPoint.Port;
        var router = await StartRouterAsync(QuickSweep, $"\"{Domain}\" = \"127.0.0.1:{port}\"");
        await SendUntilAcceptedAsync(router, ["warm@" + Domain], TimeSpan.FromSeconds(90));

        var token = TestMessages.NewToken();
        string queueId;
        await using (var c = await router.ConnectEhloAsync())
        {
            c.Timeout = TimeSpan.FromSeconds(60);
            queueId = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(token, "u@" + Domain), "sender@remote.test", ["u@" + Domain]));
        }
        // Its reference is one the sweep judges (past its acceptance deadline and the grace), and
        // the queue's own checks when it started are long over: only a periodic sweep looks now.
        // (Its deadline is the acknowledgement timeout, 10 s, after it was stored.)
        Assert.Equal(2, await RowsOfAsync(queueId));
        var storedAt = await ScalarAsync($"SELECT (extract(epoch FROM stored_at) * 1000)::bigint FROM router_bodies WHERE queue_id = '{queueId}'");
        await Eventually.UntilAsync(async () => await ScalarAsync($"SELECT (extract(epoch FROM now()) * 1000)::bigint") > storedAt + 21_000,
            TimeSpan.FromSeconds(40), $"{queueId} 10 s past its acceptance deadline");
        Assert.True(await RowsOfAsync(queueId) == 2, $"the queued message's body and reference must stay: {await DescribeRowsAsync(queueId)}");
        // A sweep after that has judged this domain's references once it releases one the queue
        // does not hold: a refused message's, stored an hour ago by a node from before accept_by.
        await ExecuteAsync($"""
            INSERT INTO router_bodies (queue_id, data, stored_at) VALUES ('orphan{token}', 'x', now() - interval '1 hour');
            INSERT INTO router_body_refs (queue_id, owner) VALUES ('orphan{token}', '{Domain}');
            """);
        await Eventually.UntilAsync(async () => await RowsOfAsync("orphan" + token) == 0, TimeSpan.FromSeconds(30),
            $"the sweep to release the orphan reference of {Domain}\n{RouterProblems(router)}");

        Assert.True(await RowsOfAsync(queueId) == 2, $"the queued message's body and reference must stay: {await DescribeRowsAsync(queueId)}");

        _sinks.Remove(refusing);
        await refusing.DisposeAsync();
        var accepting = await StartSinkAsync(port: port);
        await Eventually.TrueAsync(() => accepting.MessagesWith(token).Length > 0, TimeSpan.FromSeconds(30), () => $"{queueId} delivered; sink {accepting.Stats}\n{RouterProblems(router)}");
        var delivered = Encoding.ASCII.GetString(accepting.MessagesWith(token)[0].Data);
        Assert.Contains($"Subject: test {token}", delivered, StringComparison.Ordinal);
        Assert.Contains("Hello from the tests.", delivered, StringComparison.Ordinal);
        await Eventually.UntilAsync(async () => await RowsOfAsync(queueId) == 0, TimeSpan.FromSeconds(20), $"{queueId}'s body released after its delivery");
    }

    private async Task<RouterProcess> StartRouterAsync(string sweep, string routes)
    {
        _router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router {
                  delivery-ack-timeout = {{AckTimeout}}
                  queue {
                    store = "postgresql"
                    connection-string = "{{_postgres.ConnectionString}}"
                    retry-schedule = [1s]
                    {{sweep}}
                  }
                  relay.transport { {{routes}} }
                }
                """,
        });
        return _router;
    }

    private async Task<SmtpSink> StartSinkAsync(string? rule = null, int port = 0)
    {
        var sink = await TestSinks.StartAsync(new IPEndPoint(IPAddress.Loopback, port), rule is null ? [] : [rule]);
        _sinks.Add(sink);
        return sink;
    }

    /// <summary>Sends a message to <paramref name="recipients"/> until one is answered 250 (the first writes of a cold start may outlast the acknowledgement timeout).</summary>
    private static async Task SendUntilAcceptedAsync(RouterProcess router, string[] recipients, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await using var c = await router.ConnectEhloAsync();
            c.Timeout = TimeSpan.FromSeconds(60);
            await c.CommandAsync("MAIL FROM:<sender@remote.test>", "250");
            foreach (var rcpt in recipients) await c.CommandAsync($"RCPT TO:<{rcpt}>", "250");
            await c.CommandAsync("DATA", "354");
            await c.SendAsync(TestMessages.Create(TestMessages.NewToken(), recipients[0]));
            await c.SendAsync(".\r\n");
            var reply = await c.ReadReplyAsync();
            if (reply.Lines[^1].StartsWith("250", StringComparison.Ordinal)) return;
            Assert.True(clock.Elapsed < within, $"nothing accepted within {within.TotalSeconds} s: {reply.Lines[^1]}\n{RouterProblems(router)}");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    // ---- the database, seen from the test ----

    /// <summary>
    /// From now on every reference stored or released is logged in test_ref_log (a trigger of the
    /// test's, beside the router's tables): which message got which references, and where they went.
    /// </summary>
    private async Task LogReferencesAsync()
    {
        await ExecuteAsync("""
            CREATE TABLE test_ref_log (queue_id text NOT NULL, owner text NOT NULL, op text NOT NULL);
            CREATE FUNCTION test_log_ref() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN INSERT INTO test_ref_log VALUES (NEW.queue_id, NEW.owner, 'stored'); RETURN NEW; END IF;
              INSERT INTO test_ref_log VALUES (OLD.queue_id, OLD.owner, 'released'); RETURN OLD;
            END $$;
            CREATE TRIGGER test_log_ref AFTER INSERT OR DELETE ON router_body_refs FOR EACH ROW EXECUTE FUNCTION test_log_ref();
            """);
    }

    private async Task<IReadOnlyList<(string QueueId, string Owner, string Op)>> ReferenceLogAsync()
    {
        var log = new List<(string, string, string)>();
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT queue_id, owner, op FROM test_ref_log", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) log.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return log;
    }

    /// <summary>The queue id of the (one) message whose reference for <paramref name="owner"/> was stored since the log began, once it is.</summary>
    private async Task<string> StoredQueueIdAsync(string owner)
    {
        string? queueId = null;
        await Eventually.UntilAsync(async () =>
            {
                queueId = (await ReferenceLogAsync()).Where(e => e.Owner == owner && e.Op == "stored").Select(e => e.QueueId).SingleOrDefault();
                return queueId is not null;
            },
            TimeSpan.FromSeconds(30),
            $"a reference for {owner} stored");
        return queueId!;
    }

    /// <summary>The message's rows: its references plus its body.</summary>
    private async Task<long> RowsOfAsync(string queueId) =>
        await ScalarAsync($"SELECT (SELECT count(*) FROM router_body_refs WHERE queue_id = '{queueId}') + (SELECT count(*) FROM router_bodies WHERE queue_id = '{queueId}')");

    private async Task<string> DescribeRowsAsync(string queueId)
    {
        var owners = new List<string>();
        await using var connection = await OpenAsync();
        await using (var command = new NpgsqlCommand($"SELECT owner FROM router_body_refs WHERE queue_id = '{queueId}'", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) owners.Add(reader.GetString(0));
        }
        var bodies = await ScalarAsync($"SELECT count(*) FROM router_bodies WHERE queue_id = '{queueId}'");
        return $"references held by [{string.Join(", ", owners)}], {bodies} body rows";
    }

    /// <summary>A connection of its own (no pool: a pooled one would be dead after PostgreSQL's restart).</summary>
    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(_postgres.ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The router's warnings and errors (the last 40), for a failure message.</summary>
    private static string RouterProblems(RouterProcess router) => string.Join("\n", router.Output.Split('\n')
        .Where(l => l.StartsWith("[WARNING]", StringComparison.Ordinal) || l.StartsWith("[ERROR]", StringComparison.Ordinal))
        .Select(l => l.Length > 400 ? l[..400] : l.TrimEnd('\r'))
        .TakeLast(40));
}
