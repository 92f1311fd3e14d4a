using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Outbound economy, counted at the receiving server: messages to one domain share pooled
/// connections (at most max-connections-per-destination of them), and recipients of one domain
/// travel in one transaction of up to max-recipients-per-transaction RCPTs (RFC 5321 s4.5.3.1.8).
/// </summary>
[Collection(RelayWorldCollection.Name)]
public sealed class ConnectionReuseTests(RelayWorldFixture world)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Many_messages_to_one_domain_share_a_few_connections()
    {
        const int messages = 30;
        var sink = world.Sink("reuse");
        var before = sink.Stats;
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            for (var i = 0; i < messages; i++)
            {
                var rcpt = $"user{i}@reuse.relay.test";
                await TestMessages.SendAsync(c, TestMessages.Create(TestMessages.NewToken(), rcpt), "alice@example.test", [rcpt]);
            }
        }

        var after = await sink.WaitUntilAsync(s => s.Messages - before.Messages >= messages, Deadline);
        Assert.Equal(messages, after.Messages - before.Messages);
        Assert.Equal(messages, after.Transactions - before.Transactions);
        // Concurrency 2 per destination: every message reuses one of at most two pooled connections.
        Assert.InRange(after.Connections - before.Connections, 1, 2);
    }

    [Fact]
    public async Task Recipients_of_one_domain_share_transactions_of_at_most_the_limit()
    {
        var token = TestMessages.NewToken();
        string[] recipients = ["r1@multi.relay.test", "r2@multi.relay.test", "r3@multi.relay.test", "r4@multi.relay.test", "r5@multi.relay.test"];
        var sink = world.Sink("multi");
        var before = sink.Stats;
        await using (var c = await world.Router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(token, recipients[0]), "alice@example.test", recipients);
        }

        var after = await sink.WaitUntilAsync(s => s.RecipientsDelivered - before.RecipientsDelivered >= recipients.Length, Deadline);
        var copies = sink.MessagesWith(token);
        // Five recipients, three per transaction: two transactions (3 + 2), one body each.
        Assert.Equal([3, 2], copies.Select(m => m.Recipients.Count).OrderDescending());
        Assert.Equal(recipients, copies.SelectMany(m => m.Recipients).Order(StringComparer.Ordinal));
        Assert.Equal(2, after.Transactions - before.Transactions);
        Assert.Equal(1, after.Connections - before.Connections);
    }
}
