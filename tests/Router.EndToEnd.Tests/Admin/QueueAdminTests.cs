using System.Text.Json;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Admin;

/// <summary>
/// The admin endpoint and `router queue ...` on a real router: a message for a destination that
/// refuses connections waits in the queue; /health, /metrics (counters, queue and spool gauges),
/// /queue and the CLI's list, show, retry and delete see it and act on it (an id or domain with
/// nothing queued is exit code 1); the delete drops the body from the spool log. The listing and
/// the log show the last reply whole, as mailq does.
/// </summary>
public sealed class QueueAdminTests
{
    private const string Domain = "unreachable.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_deferred_message_is_listed_counted_retried_and_deleted()
    {
        var http = TestPorts.Next();
        var closed = TestPorts.Next(); // nothing listens there: every attempt is deferred
        using var router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router.http.endpoint = "127.0.0.1:{{http}}"
                router.relay.transport { "{{Domain}}" = "127.0.0.1:{{closed}}" }
                """,
        });
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await router.WaitForOutputAsync("router: admin", Deadline);
        Assert.Equal("ok\n", await client.GetStringAsync("/health"));

        var token = TestMessages.NewToken();
        await using (var c = await router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, to: "someone@" + Domain), "a@client.test", ["someone@" + Domain]);
        }

        // The first attempt finds the port closed: the message waits, and the spool holds its body.
        var id = "";
        await Eventually.UntilAsync(async () => (id = (await QueuedAsync(client)).FirstOrDefault(m => m.Attempts >= 1).Id ?? "") != "", Deadline, "the message to be queued after one attempt");
        var metrics = await AdminMetrics.ReadAsync(client);
        Assert.Equal(1, metrics["router_messages_accepted_total"]);
        Assert.Equal(1, metrics["router_queue_messages"]);
        Assert.Equal(1, metrics["router_spool_references"]);
        Assert.Equal(1, metrics["router_cluster_members_up"]);
        Assert.Equal(1, metrics["router_domain_shards"]);
        Assert.Equal(1, metrics["router_domain_entities"]);
        Assert.True(metrics["router_spool_segments"] >= 1 && metrics["router_spool_bytes"] > 0, "spool gauges");
        Assert.True(metrics["router_remote_deferred_total"] >= 1, "deferred counter");
        // The attempt ended: its delivery slot is free again.
        Assert.Equal(0, metrics["router_delivery_attempts_active"]);
        Assert.Equal(0, metrics["router_delivery_destinations_waiting"]);

        // The closed port gives 451 4.4.1 (RFC 3463: no answer from host): list, show and the log
        // show the whole last reply, as mailq would.
        var list = await CliAsync(router, "queue", "list");
        Assert.Contains(id, list);
        Assert.Contains($"someone@{Domain} [Deferred] 451 4.4.1 ", list);
        Assert.Contains("-- 1 messages in 1 domains", list);
        var show = await CliAsync(router, "queue", "show", id);
        Assert.Contains("domain: " + Domain, show);
        Assert.Contains($"recipient: someone@{Domain} [Deferred] 451 4.4.1 ", show);
        // The log line is written through Akka's logger, which may lag behind the queue.
        await router.WaitForOutputAsync($"{id}: to=<someone@{Domain}> relay=none status=Deferred (451 4.4.1 ", Deadline);

        // Retry now: a second attempt, long before the retry schedule would make one.
        Assert.Contains("1 messages scheduled for immediate delivery", await CliAsync(router, "queue", "retry", id));
        await Eventually.UntilAsync(async () => (await QueuedAsync(client)).Any(m => m.Id == id && m.Attempts >= 2), Deadline, "a second attempt after the retry");

        // An id or a domain that names nothing queued is an error (exit 1), as for show and delete.
        var unknownId = await router.RunCliAsync("queue", "retry", "NOSUCHID");
        Assert.Equal(1, unknownId.Exit);
        Assert.Contains("router: NOSUCHID is not in the queue", unknownId.Stderr);
        var emptyDomain = await router.RunCliAsync("queue", "retry", "--domain", "nosuch.test");
        Assert.Equal(1, emptyDomain.Exit);
        Assert.Contains("router: nothing is queued for nosuch.test", emptyDomain.Stderr);
        Assert.Contains("messages scheduled for immediate delivery", await CliAsync(router, "queue", "retry", "--domain", Domain));

        Assert.Contains("1 queue entries deleted", await CliAsync(router, "queue", "delete", id));
        await router.WaitForOutputAsync($"] {id}: removed", Deadline); // postsuper -d's line
        Assert.Contains("Mail queue is empty", await CliAsync(router, "queue", "list"));
        Assert.Equal(1, (await router.RunCliAsync("queue", "show", id)).Exit);
        var deletedAgain = await router.RunCliAsync("queue", "delete", id);
        Assert.Equal(1, deletedAgain.Exit);
        Assert.Contains($"router: {id} is not in the queue", deletedAgain.Stderr);
        // An empty id names nothing either (it once went to DELETE /queue/, whose 405 read as "cannot reach the node", exit 2).
        var emptyId = await router.RunCliAsync("queue", "delete", "");
        Assert.Equal(1, emptyId.Exit);
        Assert.Contains("router: \"\" is not in the queue", emptyId.Stderr);
        await Eventually.UntilAsync(async () => (await AdminMetrics.ReadAsync(client))["router_spool_references"] == 0, Deadline, "the body to leave the spool");
        Assert.Equal(0, (await AdminMetrics.ReadAsync(client))["router_queue_messages"]);
    }

    [Fact]
    public async Task A_suspended_destination_is_listed_with_the_error_that_suspended_it()
    {
        var http = TestPorts.Next();
        var closed = TestPorts.Next();
        // A limit of 1: one attempt that reaches no server is a whole cohort, and suspends the destination.
        using var router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router.http.endpoint = "127.0.0.1:{{http}}"
                router.relay.transport { "{{Domain}}" = "127.0.0.1:{{closed}}" }
                router.delivery.initial-connections-per-destination = 1
                router.queue.retry-schedule = [10m]
                """,
        });
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
        await router.WaitForOutputAsync("router: admin", Deadline);
        await using (var c = await router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(TestMessages.NewToken(), to: "someone@" + Domain), "a@client.test", ["someone@" + Domain]);
        }
        await router.WaitForOutputAsync($"delivery to {Domain} temporarily suspended until", Deadline);

        using (var json = JsonDocument.Parse(await client.GetStringAsync("/queue")))
        {
            var listing = json.RootElement.EnumerateArray().Single(l => l.GetProperty("domain").GetString() == Domain);
            Assert.True(listing.GetProperty("suspendedUntil").GetDateTimeOffset() > DateTimeOffset.UtcNow + TimeSpan.FromMinutes(8));
            Assert.StartsWith("451 4.4.1 ", listing.GetProperty("suspendedFor").GetString(), StringComparison.Ordinal);
            Assert.Equal(1, listing.GetProperty("connectionLimit").GetInt32());
        }
        var list = await CliAsync(router, "queue", "list");
        Assert.Contains($"-- {Domain}: delivery temporarily suspended until ", list);
        Assert.Contains(": 451 4.4.1 ", list);
    }

    private static async Task<string> CliAsync(RouterProcess router, params string[] args)
    {
        var (exit, stdout, stderr) = await router.RunCliAsync(args);
        Assert.True(exit == 0, $"router {string.Join(' ', args)}: exit {exit}\n{stdout}{stderr}");
        return stdout;
    }

    private static async Task<(string Id, int Attempts)[]> QueuedAsync(HttpClient client)
    {
        using var json = JsonDocument.Parse(await client.GetStringAsync("/queue"));
        return json.RootElement.EnumerateArray()
            .Where(l => l.GetProperty("domain").GetString() == Domain)
            .SelectMany(l => l.GetProperty("messages").EnumerateArray())
            .Select(m => (m.GetProperty("queueId").GetString()!, m.GetProperty("attempts").GetInt32()))
            .ToArray();
    }
}
