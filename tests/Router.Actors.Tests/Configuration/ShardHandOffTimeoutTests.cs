using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Router.Actors.Configuration;
using Settings = Router.Actors.Tests.Security.TestSettings;

namespace Router.Actors.Tests.Configuration;

/// <summary>
/// The sharding hand-off timeout a node runs with: Akka's 60 s default is how long requests for a
/// shard can wait when a hand-off's worker misses the end of the region it hands off from; ours
/// is bounded by the owners' deadline and still leaves them that deadline before Akka stops them
/// by force (5 s before the timeout).
/// </summary>
public sealed class ShardHandOffTimeoutTests
{
    private static readonly TimeSpan AkkaForcesStopBefore = TimeSpan.FromSeconds(5);

    private static TimeSpan HandOffTimeout(Config config, RouterSettings settings)
    {
        var full = RouterNode.ShardingConfig(config, settings).WithFallback(config).WithFallback(ClusterSharding.DefaultConfig()).WithFallback(ClusterSingleton.DefaultConfig());
        return ClusterShardingSettings.Create(full.GetConfig("akka.cluster.sharding"), full.GetConfig("akka.cluster.singleton")).TuningParameters.HandOffTimeout;
    }

    [Theory]
    [InlineData(30, 15)]
    [InlineData(10, 10)]
    [InlineData(120, 37.5)]
    public void Follows_the_acknowledgement_timeout_and_leaves_the_owners_their_deadline(int ackSeconds, double expectedSeconds)
    {
        var settings = Settings.Create(s => s with { DeliveryAckTimeout = TimeSpan.FromSeconds(ackSeconds) });

        var timeout = HandOffTimeout(Config.Empty, settings);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), timeout);
        Assert.True(timeout - AkkaForcesStopBefore > settings.OwnerHandOffDeadline, "Akka would stop owners before their own deadline");
    }

    [Fact]
    public void With_the_default_acknowledgement_timeout_a_stalled_hand_off_ends_before_a_session_gives_up()
    {
        var settings = Settings.Create();
        Assert.True(HandOffTimeout(Config.Empty, settings) < settings.DeliveryAckTimeout);
    }

    [Fact]
    public void A_configured_timeout_wins()
    {
        var config = ConfigurationFactory.ParseString("akka.cluster.sharding.handoff-timeout = 42s");
        Assert.Equal(TimeSpan.FromSeconds(42), HandOffTimeout(config, Settings.Create()));
    }
}
