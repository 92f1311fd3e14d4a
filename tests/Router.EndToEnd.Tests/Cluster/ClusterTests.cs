using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Router.EndToEnd.Tests.Infrastructure;
using Router.Protocol.Client;
using Xunit.Abstractions;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// Three real router processes in one cluster over a private PostgreSQL, loaded through every
/// node at once. Every message that got 250 must arrive — in its Maildir, at the sink, or both —
/// whatever happens to the nodes; a copy more than once is allowed after a crash (at-least-once)
/// and reported. A graceful stop is held to more: the stopping node answers 421 only to sessions
/// between transactions, no other node refuses anything while its shards move, and nothing is
/// delivered twice. The tests share one cluster and run in order: calm first, then a kill -9,
/// then a rolling restart, then a node frozen until the others down it.
/// </summary>
[TestCaseOrderer(ClusterStepOrderer.TypeName, ClusterStepOrderer.AssemblyName)]
[Collection(ClusterCollection.Name)]
public sealed partial class ClusterTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>, IAsyncLifetime
{
    private const int Workers = 6;
    private static readonly TimeSpan DeliveryDeadline = TimeSpan.FromSeconds(90);

    /// <summary>How often a condition with a deadline is checked again (polling, not synchronisation).</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public Task InitializeAsync() => cluster.EnsureAllUpAsync();

    /// <summary>With ROUTER_TEST_LOGS=folder, every node's whole output is kept there after each test, for a post-mortem.</summary>
    public async Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("ROUTER_TEST_LOGS") is not { Length: > 0 } folder) return;
        Directory.CreateDirectory(folder);
        for (var i = 0; i < cluster.Nodes.Count; i++)
            await File.WriteAllTextAsync(Path.Combine(folder, $"node{i}-port{cluster.Nodes[i].Port}.log"), cluster.Nodes[i].Output);
    }

    [Fact]
    [ClusterStep(1)]
    public async Task Mail_sent_round_robin_to_every_node_arrives_exactly_once_in_maildirs_and_at_the_sink()
    {
        var token = TestMessages.NewToken();
        var load = new ClusterLoad(token, cluster.SmtpEndPoints) { Limit = 300 };
        await load.RunAsync(Workers, CancellationToken.None);

        var all = load.All;
        Assert.Equal(300, all.Count);
        var notAccepted = all.Where(s => s.Outcome != ClusterLoad.Outcome.Accepted).ToArray();
        Assert.True(notAccepted.Length == 0, $"{notAccepted.Length} not accepted, e.g. {notAccepted.FirstOrDefault()?.Reply}\n{cluster.Logs()}");
        Assert.Equal(cluster.Nodes.Select(n => n.Port).Order(), all.Select(s => s.Port).Distinct().Order());

        var ledger = new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token);
        await AwaitDeliveryAsync(ledger, load.Accepted);
        var maildir = ledger.Maildir();
        var sink = ledger.Sink();
        var locals = all.Where(s => s.Mailbox is not null).ToArray();
        var remotes = all.Where(s => s.Remote is not null).ToArray();
        Assert.Equal(locals.Length, maildir.Count);
        Assert.Equal(remotes.Length, sink.Count);
        foreach (var s in locals) Assert.Equal([s.Mailbox!], maildir[s.Id].Select(f => f.Mailbox));
        foreach (var s in remotes) Assert.Equal([new[] { s.Remote! }], sink[s.Id].Select(r => r.ToArray()));
        output.WriteLine($"{all.Count} messages over {cluster.Nodes.Count} nodes: {locals.Length} Maildir files, {remotes.Length} relayed, each exactly once");

        // The nodes started together on an empty database: none failed to create the journal's tables.
        foreach (var node in cluster.Nodes) Assert.DoesNotContain("Failed to initialize", node.Output, StringComparison.Ordinal);

        // Each node's /metrics: it sees all three members up and runs a share of the mailboxes;
        // the destination domains run somewhere, each on one node only.
        var views = new List<Dictionary<string, long>>();
        foreach (var port in cluster.AdminPorts)
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            views.Add(await AdminMetrics.ReadAsync(client));
        }
        output.WriteLine("mailbox shards / entities, domain shards / entities by node: " + string.Join("; ", views.Select(v =>
            $"{v["router_mailbox_shards"]} / {v["router_mailbox_entities"]}, {v["router_domain_shards"]} / {v["router_domain_entities"]}")));
        Assert.All(views, v => Assert.Equal(cluster.Nodes.Count, v["router_cluster_members_up"]));
        Assert.All(views, v => Assert.True(v["router_mailbox_shards"] > 0, "a node runs no mailbox shard"));
        // (A domain with an empty queue passivates after a minute idle: at most one entity each.)
        Assert.InRange(views.Sum(v => v["router_domain_entities"]), 1, ClusterFixture.RelayDomainCount);
    }

    [Fact]
    [ClusterStep(2)]
    public async Task A_queued_message_is_seen_and_deleted_through_the_queue_commands_of_any_node()
    {
        // An operator has the queue id from a log line or a bounce, not the node that owns it.
        var token = TestMessages.NewToken();
        var rcpt = $"user@{ClusterFixture.HeldDomain}";
        string id;
        await using (var c = await cluster.Nodes[0].ConnectEhloAsync())
        {
            c.Timeout = TimeSpan.FromSeconds(60);
            id = TestMessages.QueueIdOf(await TestMessages.SendAsync(c, TestMessages.Create(token, rcpt), "sender@sender.test", [rcpt]));
        }

        foreach (var node in cluster.Nodes)
        {
            var (exit, stdout, stderr) = await node.RunCliAsync("queue", "show", id);
            Assert.True(exit == 0, $"node on port {node.Port}: exit {exit}: {stdout}{stderr}");
            Assert.Contains("domain: " + ClusterFixture.HeldDomain, stdout, StringComparison.Ordinal);
        }
        var deleted = await cluster.Nodes[^1].RunCliAsync("queue", "delete", id);
        Assert.Contains("1 queue entries deleted", deleted.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, (await cluster.Nodes[0].RunCliAsync("queue", "show", id)).Exit);
    }

    [Fact]
    [ClusterStep(3)]
    public async Task Mailboxes_owned_by_other_nodes_write_the_Delivered_To_of_the_address_extension()
    {
        var token = TestMessages.NewToken();
        var to = ClusterFixture.Mailboxes.Skip(12).Take(12).Select(m => m.Replace("@", "+lists@", StringComparison.Ordinal)).ToArray();
        var message = ClusterLoad.Message(token, 1, "lists@sender.test", to, 4096);

        var entry = cluster.Nodes[0];
        await using (var connection = await SmtpClientConnection.ConnectAsync(entry.EndPoint, new SmtpClientOptions { LocalHostName = "lists.test" }, CancellationToken.None))
        {
            await connection.EhloAsync(CancellationToken.None);
            var result = await connection.SendAsync(new SmtpEnvelope("lists@sender.test", to), message, CancellationToken.None);
            Assert.True(result.Delivered, $"not accepted: {result.DataReply}\n{cluster.Logs()}");
        }

        var ledger = new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token);
        var id = ClusterLoad.MessageId(token, 1);
        await Eventually.UntilAsync(() => Task.FromResult(ledger.Maildir().GetValueOrDefault(id)?.Count == to.Length), DeliveryDeadline, "the message in 12 mailboxes");

        var files = ledger.Maildir()[id];
        foreach (var (mailbox, path) in files)
        {
            var trace = MaildirView.TraceOf(File.ReadAllBytes(path));
            Assert.Contains($"\r\nDelivered-To: {mailbox.Replace("@", "+lists@", StringComparison.Ordinal)}\r\n", trace, StringComparison.Ordinal);
        }
        Assert.True(files.Any(f => WriterPidOf(f.Path) != entry.Pid), "every mailbox was owned by the accepting node: nothing crossed nodes");
    }

    [Fact]
    [ClusterStep(3)]
    public async Task A_message_at_the_size_limit_accepted_on_one_node_reaches_mailboxes_owned_by_other_nodes()
    {
        var token = TestMessages.NewToken();
        var mailboxes = ClusterFixture.Mailboxes.Take(12).ToArray();
        var remote = "big@" + ClusterFixture.RelayDomains[0];
        string[] to = [.. mailboxes, remote];
        var message = ClusterLoad.Message(token, 1, "big@sender.test", to, ClusterFixture.MaxMessageSize);
        Assert.Equal(ClusterFixture.MaxMessageSize, message.Length);

        var entry = cluster.Nodes[0];
        await using (var connection = await SmtpClientConnection.ConnectAsync(entry.EndPoint, new SmtpClientOptions { LocalHostName = "big.test" }, CancellationToken.None))
        {
            await connection.EhloAsync(CancellationToken.None);
            var sending = System.Diagnostics.Stopwatch.StartNew();
            var result = await connection.SendAsync(new SmtpEnvelope("big@sender.test", to), message, CancellationToken.None);
            Assert.True(result.Delivered, $"not accepted after {sending.Elapsed.TotalSeconds:0.0} s: {result.DataReply}\n{cluster.Logs()}");
            output.WriteLine($"sent and accepted in {sending.Elapsed.TotalSeconds:0.0} s");
        }

        var ledger = new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token);
        var id = ClusterLoad.MessageId(token, 1);
        await Eventually.UntilAsync(
            () => Task.FromResult(ledger.Maildir().GetValueOrDefault(id)?.Count == mailboxes.Length && ledger.Sink().ContainsKey(id)),
            DeliveryDeadline,
            "the big message in 12 mailboxes and at the sink");

        var files = ledger.Maildir()[id];
        Assert.Equal(mailboxes.Order(), files.Select(f => f.Mailbox).Order());
        foreach (var (_, path) in files) Assert.True(MaildirView.StripTrace(File.ReadAllBytes(path)).AsSpan().SequenceEqual(message), $"{path} differs from what was sent");
        var relayed = Assert.Single(cluster.Sink.Messages, m => m.Recipients.Contains(remote));
        Assert.True(relayed.Data.AsSpan().EndsWith(message), "the relayed copy differs from what was sent");

        var writers = files.Select(f => WriterPidOf(f.Path)).ToArray();
        var elsewhere = writers.Count(p => p != entry.Pid);
        output.WriteLine($"{message.Length} bytes accepted on node 0 (pid {entry.Pid}); written by pids {string.Join(", ", writers.GroupBy(p => p).Select(g => $"{g.Key}x{g.Count()}"))}");
        Assert.True(elsewhere > 0, "every mailbox was owned by the accepting node: nothing crossed nodes");
    }

    [Fact]
    [ClusterStep(4)]
    public async Task Kill_9_of_a_node_under_load_loses_nothing_acknowledged_and_its_entities_resume_on_the_survivors()
    {
        var token = TestMessages.NewToken();
        var load = new ClusterLoad(token, cluster.SmtpEndPoints);
        using var abort = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var run = load.RunAsync(Workers, abort.Token);
        await UntilAsync(() => load.AcceptedCount >= 60, TimeSpan.FromSeconds(60), "60 messages accepted before the kill", run);

        // Node 0 is the oldest member: it runs both shard coordinators, the hardest case.
        var victim = cluster.Nodes[0];
        var survivors = cluster.Nodes.Skip(1).Select(n => n.EndPoint).ToArray();
        var killedAt = load.Now;
        // SIGKILL lands at once; Kill() then waits for the process's output to close, which can
        // take seconds: the probes must not wait for that.
        var killed = Task.Run(victim.Kill);
        // Each owner is probed through the survivors every second (open loop), whatever the load does.
        var probes = ClusterFixture.Mailboxes.Select(m => (Owner: "mailbox:" + m, Mailbox: (string?)m, Remote: (string?)null))
            .Concat(ClusterFixture.RelayDomains.Select(d => (Owner: "domain:" + d, Mailbox: (string?)null, Remote: (string?)("probe@" + d))))
            .Select(async p => (p.Owner, Sent: await load.UntilAcceptedAsync(p.Mailbox, p.Remote, survivors, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60))))
            .ToArray();
        (string Owner, ClusterLoad.Sent Sent)[] resumed = [];
        try
        {
            resumed = await Task.WhenAll(probes);
        }
        catch (TimeoutException e)
        {
            Assert.Fail($"{e.Message} after the kill\n{cluster.Logs()}");
        }
        var resumedAt = resumed.Max(r => r.Sent.RepliedAt);
        await killed;
        var acceptedAtResume = load.AcceptedCount;
        await UntilAsync(() => load.AcceptedCount >= acceptedAtResume + 60, TimeSpan.FromSeconds(60), "60 more messages after resumption", run);
        load.Stop();
        await run;
        await load.DrainProbesAsync();

        var ledger = new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token);
        await AwaitDeliveryAsync(ledger, load.Accepted);
        var report = Account(load, ledger);
        var failover = resumedAt - killedAt;
        var slow = resumed.Where(r => r.Sent.RepliedAt - killedAt > TimeSpan.FromSeconds(3)).OrderBy(r => r.Sent.RepliedAt).ToArray();
        output.WriteLine($"kill -9 of node 0: every mailbox and domain accepted mail again {failover.TotalSeconds:0.0} s later");
        output.WriteLine($"owners that took over 3 s ({slow.Length} of {resumed.Length}, presumably those node 0 held): " +
            string.Join(", ", slow.Select(r => $"{r.Owner} {(r.Sent.RepliedAt - killedAt).TotalSeconds:0.0} s")));
        output.WriteLine(report);
        Assert.True(failover < TimeSpan.FromSeconds(30), $"delivery resumed only after {failover.TotalSeconds:0.0} s\n{report}");

        await victim.RestartAsync();
    }

    [Fact]
    [ClusterStep(5)]
    public async Task Rolling_restart_of_every_node_under_load_loses_nothing_acknowledged_refuses_nothing_elsewhere_and_each_node_takes_its_share_back()
    {
        var token = TestMessages.NewToken();
        var load = new ClusterLoad(token, cluster.SmtpEndPoints);
        using var abort = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var run = load.RunAsync(Workers, abort.Token);
        await UntilAsync(() => load.AcceptedCount >= 60, TimeSpan.FromSeconds(60), "60 messages accepted before the first restart", run);

        var ledger = new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token);
        var stops = new List<Stop>();
        for (var i = 0; i < cluster.Nodes.Count; i++)
        {
            var node = cluster.Nodes[i];
            var signalled = load.Now;
            var exit = await node.StopGracefullyAsync(TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"node {i} exited with {exit} on SIGTERM\n{cluster.Logs()}");
            var exited = load.Now;
            await node.RestartAsync();
            var restarted = load.Now;
            var before = load.AcceptedCount;
            await UntilAsync(() => load.AcceptedCount >= before + 30, TimeSpan.FromSeconds(60), $"30 messages accepted after node {i} came back", run);
            var back = load.Now;
            // The rejoined node takes its share back: shards are rebalanced to it (or handed to it
            // when the next node leaves) and its mailbox entities write mail under its new PID.
            // This is checked before the next node stops, which would otherwise hand it shards.
            var pid = node.Pid;
            await UntilAsync(() => ledger.Maildir().Values.Any(files => files.Any(f => WriterPidOf(f.Path) == pid)),
                TimeSpan.FromSeconds(60), $"node {i} (pid {pid}) writing mail again after its restart", run);
            stops.Add(new Stop(i, node.Port, signalled, exited, restarted, back, load.Now));
        }
        load.Stop();
        await run;

        await AwaitDeliveryAsync(ledger, load.Accepted);
        var account = Count(load, ledger);
        var all = load.All;
        var firstStop = stops[0].Signalled;
        var accepted = all.Where(s => s.Outcome == ClusterLoad.Outcome.Accepted && s.StartedAt >= firstStop).OrderBy(s => s.RepliedAt).ToArray();
        var longestGap = accepted.Zip(accepted.Skip(1), (a, b) => (From: a.RepliedAt, Gap: b.RepliedAt - a.RepliedAt)).MaxBy(g => g.Gap);
        var slowest = accepted.MaxBy(s => s.RepliedAt - s.StartedAt)!;

        foreach (var stop in stops)
        {
            output.WriteLine($"node {stop.Index} (port {stop.Port}): SIGTERM at {stop.Signalled.TotalSeconds:0.0} s, stopped in {(stop.Exited - stop.Signalled).TotalSeconds:0.0} s, " +
                $"restarted (greeting) {(stop.Restarted - stop.Exited).TotalSeconds:0.0} s later, 30 more accepted {(stop.Back - stop.Restarted).TotalSeconds:0.0} s after that, " +
                $"its first Maildir file {(stop.Owning - stop.Restarted).TotalSeconds:0.0} s after the greeting");
        }
        output.WriteLine(account.Text);
        output.WriteLine("replies by node: " + string.Join("; ", all.GroupBy(s => s.Port).OrderBy(g => g.Key).Select(g =>
            $"port {g.Key}: " + string.Join(", ", g.GroupBy(s => s.Outcome == ClusterLoad.Outcome.Unknown ? "lost" : s.Reply?[..3] ?? "?").OrderBy(c => c.Key).Select(c => $"{c.Count()} x {c.Key}")))));
        output.WriteLine($"from the first SIGTERM on: longest gap between two acceptances {longestGap.Gap.TotalSeconds:0.00} s (at {longestGap.From.TotalSeconds:0.0} s), " +
            $"slowest acceptance {(slowest.RepliedAt - slowest.StartedAt).TotalSeconds:0.00} s (at {slowest.StartedAt.TotalSeconds:0.0} s, port {slowest.Port})");
        foreach (var s in all.Where(s => s.Outcome != ClusterLoad.Outcome.Accepted).OrderBy(s => s.RepliedAt))
            output.WriteLine($"  {s.StartedAt.TotalSeconds:0.00}-{s.RepliedAt.TotalSeconds:0.00} s port {s.Port} {s.Mailbox} {s.Remote}: {s.Reply}");

        // A stopping node answers 421 to a session that is idle or starts a new transaction after
        // its drain began; nothing else, and no other node, refuses anything or drops a session.
        var misplaced = all.Where(s => s.Outcome != ClusterLoad.Outcome.Accepted
            && !(s.Outcome == ClusterLoad.Outcome.Refused && s.Reply?.StartsWith("421 ", StringComparison.Ordinal) == true
                 && stops.Any(stop => stop.Port == s.Port && s.RepliedAt >= stop.Signalled && s.RepliedAt <= stop.Exited)))
            .ToArray();
        Assert.True(misplaced.Length == 0, $"{misplaced.Length} refused or dropped other than by a draining node, e.g. " +
            string.Join("; ", misplaced.Take(5).Select(s => $"{s.Reply} on port {s.Port} at {s.RepliedAt.TotalSeconds:0.0} s")) + $"\n{account.Text}\n{cluster.Logs()}");
        Assert.True(account.Duplicates == 0, $"{account.Duplicates} duplicate copies of acknowledged mail\n{account.Text}");
        // A hand-over never holds acceptance up for long: before the fix sessions waited out the
        // 10 s acknowledgement timeout (451); a request lost in a hand-over now goes again after 2 s.
        Assert.True(slowest.RepliedAt - slowest.StartedAt < AcceptanceBound,
            $"a message took {(slowest.RepliedAt - slowest.StartedAt).TotalSeconds:0.0} s to be accepted (port {slowest.Port}, at {slowest.StartedAt.TotalSeconds:0.0} s)\n{cluster.Logs()}");
    }

    [Fact]
    [ClusterStep(6)]
    public async Task A_node_the_cluster_downs_while_it_is_frozen_exits_when_it_resumes_and_the_others_take_its_mail()
    {
        // SIGSTOP: to the others it stops answering, like a node in a long pause; the Split Brain
        // Resolver downs it (heartbeat pause 3 s, stable-after 5 s).
        var frozen = cluster.Nodes[^1];
        var others = cluster.Nodes.Take(cluster.Nodes.Count - 1).ToArray();
        await frozen.SignalAsync("STOP");
        try
        {
            foreach (var port in cluster.AdminPorts.Take(others.Length))
            {
                using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
                await Eventually.UntilAsync(async () => (await AdminMetrics.ReadAsync(client))["router_cluster_members_up"] == others.Length,
                    TimeSpan.FromSeconds(60), $"the node with admin port {port} to see the frozen node gone");
            }

            // The two left take mail for every mailbox and domain, those the frozen node owned too.
            var token = TestMessages.NewToken();
            var load = new ClusterLoad(token, others.Select(n => n.EndPoint).ToArray()) { Limit = 60 };
            await load.RunAsync(Workers, CancellationToken.None);
            var refused = load.All.Where(s => s.Outcome != ClusterLoad.Outcome.Accepted).ToArray();
            Assert.True(refused.Length == 0, $"{refused.Length} of 60 not accepted by the nodes left, e.g. {refused.FirstOrDefault()?.Reply}\n{cluster.Logs()}");
            await AwaitDeliveryAsync(new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token), load.Accepted);
        }
        finally
        {
            await frozen.SignalAsync("CONT");
        }

        // Resumed, it learns it was downed: its actor system stops, so it takes no mail any more;
        // the process ends with Akka's exit code for a downing (3) instead of lingering without a
        // cluster, so that a supervisor starts it again.
        var exit = await frozen.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 3, $"the downed node exited with {exit}\n{cluster.Logs()}");
        Assert.Contains("stopped on its own (ClusterDowningReason)", frozen.Output, StringComparison.Ordinal);

        await frozen.RestartAsync();
    }

    [Fact]
    [ClusterStep(7)]
    public async Task A_node_that_drains_before_it_leaves_is_given_no_new_shard()
    {
        // The node the step before restarted holds the fewest shards: new ones would go to it first.
        var draining = cluster.Nodes[^1];
        var others = cluster.Nodes.Take(cluster.Nodes.Count - 1).ToArray();
        // A transaction in flight keeps it draining (up to its shutdown-grace, 5 s) before it hands its shards over.
        await using (var held = await SmtpDialog.ConnectAsync(draining.Port))
        {
            await held.ExpectAsync("220");
            await held.CommandAsync("EHLO client.test", "250");
            await held.CommandAsync("MAIL FROM:<held@sender.test>", "250");
            await held.CommandAsync($"RCPT TO:<{ClusterFixture.Mailboxes[0]}>", "250");
            await draining.SignalTerminateAsync();
            await draining.WaitForOutputAsync($"draining: {cluster.Nodes.Count} of {cluster.Nodes.Count} members allocate no more shards to this node", TimeSpan.FromSeconds(30));
            var marks = cluster.Nodes.Select(n => n.Output.Length).ToArray();

            // Mail for domains that nothing was sent to yet: their shards are allocated now.
            var token = TestMessages.NewToken();
            var targets = others.Select(n => n.EndPoint).ToArray();
            var load = new ClusterLoad(token, targets);
            await Task.WhenAll(ClusterFixture.FreshDomains.Select(d =>
                load.UntilAcceptedAsync(null, "probe@" + d, targets, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60))));
            await load.DrainProbesAsync();
            var started = cluster.Nodes.Select((n, i) => DomainShardsStarted(n.Output[marks[i]..])).ToArray();
            output.WriteLine($"domain shards started during the drain, by node: {string.Join(", ", started)}");
            Assert.True(started[^1] == 0, $"the draining node started {started[^1]} domain shards\n{cluster.Logs()}");
            Assert.True(started.Sum() > 0, $"no domain shard was started for {ClusterFixture.FreshDomains.Count} new domains\n{cluster.Logs()}");
            await AwaitDeliveryAsync(new DeliveryLedger(cluster.MaildirRoot, cluster.Sink, token), load.Accepted);
        }
        Assert.Equal(0, await draining.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>How many domain shards a node's log shows starting (each takes its lease first).</summary>
    private static int DomainShardsStarted(string log) =>
        log.Split("Acquiring lease LeaseSettings(router-shard-domain-").Length - 1;

    /// <summary>The longest a message may wait for its 250 while shards move (the acknowledgement timeout is 10 s).</summary>
    private static readonly TimeSpan AcceptanceBound = TimeSpan.FromSeconds(8);

    private sealed record Stop(int Index, int Port, TimeSpan Signalled, TimeSpan Exited, TimeSpan Restarted, TimeSpan Back, TimeSpan Owning);

    /// <summary>Waits until every accepted message is where it should be; fails naming the missing ones.</summary>
    private async Task AwaitDeliveryAsync(DeliveryLedger ledger, IReadOnlyList<ClusterLoad.Sent> accepted)
    {
        var deadline = DateTime.UtcNow + DeliveryDeadline;
        while (true)
        {
            var missing = Missing(ledger, accepted);
            if (missing.Count == 0) return;
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{missing.Count} of {accepted.Count} acknowledged messages never arrived, e.g. " +
                    string.Join(", ", missing.Take(5).Select(m => $"{m.Id} (to {m.Mailbox} {m.Remote}, via port {m.Port})")) + "\n" + cluster.Logs(120));
            }
            await Task.Delay(PollInterval);
        }
    }

    private static List<ClusterLoad.Sent> Missing(DeliveryLedger ledger, IReadOnlyList<ClusterLoad.Sent> accepted)
    {
        var maildir = ledger.Maildir();
        var sink = ledger.Sink();
        return accepted.Where(s =>
                (s.Mailbox is not null && !(maildir.TryGetValue(s.Id, out var files) && files.Any(f => f.Mailbox == s.Mailbox)))
                || (s.Remote is not null && !sink.ContainsKey(s.Id)))
            .ToList();
    }

    /// <summary>The exact accounting of a run: outcomes, copies delivered, duplicates, unacknowledged messages that arrived anyway.</summary>
    private static string Account(ClusterLoad load, DeliveryLedger ledger) => Count(load, ledger).Text;

    private sealed record Accounting(int Duplicates, string Text);

    private static Accounting Count(ClusterLoad load, DeliveryLedger ledger)
    {
        var all = load.All;
        var maildir = ledger.Maildir();
        var sink = ledger.Sink();
        int Copies(ClusterLoad.Sent s) =>
            (s.Mailbox is null ? 0 : maildir.GetValueOrDefault(s.Id)?.Count ?? 0) + (s.Remote is null ? 0 : sink.GetValueOrDefault(s.Id)?.Count ?? 0);
        int Expected(ClusterLoad.Sent s) => (s.Mailbox is null ? 0 : 1) + (s.Remote is null ? 0 : 1);
        var accepted = all.Where(s => s.Outcome == ClusterLoad.Outcome.Accepted).ToArray();
        var other = all.Where(s => s.Outcome != ClusterLoad.Outcome.Accepted).ToArray();
        var duplicates = accepted.Sum(s => Math.Max(0, Copies(s) - Expected(s)));
        var duplicated = accepted.Count(s => Copies(s) > Expected(s));
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"sent {all.Count}: accepted {accepted.Length}, refused {other.Count(s => s.Outcome == ClusterLoad.Outcome.Refused)}, connection lost mid-transaction {other.Count(s => s.Outcome == ClusterLoad.Outcome.Unknown)}; connection errors {load.ConnectionErrors}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"accepted: all delivered ({accepted.Sum(Expected)} copies expected), {duplicates} duplicate copies of {duplicated} messages");
        sb.AppendLine(CultureInfo.InvariantCulture, $"not acknowledged but delivered anyway (allowed): {other.Count(s => Copies(s) > 0)} of {other.Length}");
        foreach (var reply in other.GroupBy(s => s.Reply).OrderByDescending(g => g.Count()).Take(3)) sb.AppendLine(CultureInfo.InvariantCulture, $"  {reply.Count()} x {reply.Key}");
        return new Accounting(duplicates, sb.ToString());
    }

    /// <summary>Awaits a condition of the running load; fails early if the load itself failed.</summary>
    private async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Task run, Func<string>? detail = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (run.IsFaulted) await run;
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {timeout.TotalSeconds:0} s waiting for {what}; {detail?.Invoke()}\n{cluster.Logs()}");
            await Task.WhenAny(run, Task.Delay(PollInterval));
        }
    }

    /// <summary>The Maildir file name carries the writer's PID: which node owned the mailbox.</summary>
    private static int WriterPidOf(string path) =>
        int.Parse(WriterPid().Match(Path.GetFileName(path)).Groups[1].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"P(\d+)Q")]
    private static partial Regex WriterPid();
}

/// <summary>
/// The cluster tests run alone, after the other collections: they hold the cluster to timing
/// (a hand-over without a pause in acceptance, 250 within seconds), and on two cores the other
/// collections' routers, Postfix and dnsmasq competing for the CPU stretched a shard hand-off past
/// Akka's one-minute limit (a rolling-restart run in the full suite, 2026-11-29).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}
