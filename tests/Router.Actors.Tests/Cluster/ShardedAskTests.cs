using Akka.Actor;
using Akka.TestKit.Xunit2;
using Router.Actors.Sharding;

namespace Router.Actors.Tests.Cluster;

/// <summary>
/// Sharding drops requests while a shard moves; <see cref="ShardedAsk"/> sends the same request
/// again, from the same reply address, until the owner answers or the timeout passes.
/// </summary>
public sealed class ShardedAskTests : TestKit
{
    private sealed record Request(string Id);

    [Fact]
    public async Task A_request_lost_on_the_way_goes_again_from_the_same_asker_until_answered()
    {
        var owner = CreateTestProbe();
        var ask = ShardedAsk.AskAsync<string>(owner.Ref, new Request("Q1"), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));

        owner.ExpectMsg(new Request("Q1"));
        var lost = owner.LastSender; // dropped: no answer
        owner.ExpectMsg(new Request("Q1"), TimeSpan.FromSeconds(3));
        Assert.Equal(lost, owner.LastSender);
        owner.LastSender.Tell("accepted Q1");

        Assert.Equal("accepted Q1", await ask.WaitAsync(TimeSpan.FromSeconds(5)));
        // No more sends once answered: one resend may have crossed the answer on a loaded machine,
        // while an asker still sending every 300 ms would send three or four in this second.
        Assert.True(owner.ReceiveWhile(TimeSpan.FromSeconds(1), m => m as Request).Count <= 1, "the request went on after the answer");
    }

    [Fact]
    public async Task An_owner_that_never_answers_times_out()
    {
        var owner = CreateTestProbe();
        // Sent at once, then every 200 ms: fifteen sends before the 3 s timeout, of which three
        // are asked for, leaving room for the late timers of a loaded machine (700 ms, then 1.5 s,
        // were too tight in full suite runs).
        var ask = ShardedAsk.AskAsync<string>(owner.Ref, new Request("Q1"), TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAsync<AskTimeoutException>(() => ask.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(owner.ReceiveWhile(TimeSpan.FromMilliseconds(500), m => m as Request).Count >= 3, "the request was not sent again");
    }

    [Fact]
    public void Requests_go_again_well_within_the_acknowledgement_timeout()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), ShardedAsk.ResendInterval(TimeSpan.FromSeconds(30)));
        Assert.Equal(TimeSpan.FromSeconds(2), ShardedAsk.ResendInterval(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(1), ShardedAsk.ResendInterval(TimeSpan.FromSeconds(4)));
    }
}
