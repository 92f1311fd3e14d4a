using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Router.Actors.Sharding;
using Xunit.Abstractions;

namespace Router.Actors.Tests.Cluster;

/// <summary>
/// A member that drains before it leaves is told to every member, and the shard allocation
/// strategy of each (<see cref="DrainingAwareAllocation"/>) leaves it out: no shard is allocated or rebalanced to it any more (two real
/// actor systems in one cluster on loopback). It is forgotten once it is removed, so that a node
/// restarted on the same address takes shards again.
/// </summary>
public sealed class DrainingMembersTests : TestKit, IAsyncLifetime
{
    private static readonly Config ClusterConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        """);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly ActorSystem _other;

    public DrainingMembersTests(ITestOutputHelper output)
        : base(ClusterConfig, "draining", output)
    {
        _other = ActorSystem.Create("draining", ClusterConfig);
    }

    public async Task InitializeAsync()
    {
        var first = Akka.Cluster.Cluster.Get(Sys);
        first.Join(first.SelfAddress);
        Akka.Cluster.Cluster.Get(_other).Join(first.SelfAddress);
        await AwaitConditionAsync(() => Task.FromResult(first.State.Members.Count(m => m.Status == MemberStatus.Up) == 2), Deadline);
    }

    async Task IAsyncLifetime.DisposeAsync() => await _other.Terminate();

    private static IImmutableDictionary<IActorRef, IImmutableList<string>> Allocations(params (IActorRef Region, int Shards)[] regions) =>
        regions.ToImmutableDictionary(r => r.Region, r => (IImmutableList<string>)Enumerable.Range(0, r.Shards).Select(i => $"{r.Region.Path.Name}-{i}").ToImmutableList());

    [Fact]
    public async Task A_draining_member_gets_no_shard_and_none_is_rebalanced_to_it_until_it_is_removed()
    {
        var draining = DrainingMembers.Start(Sys);
        DrainingMembers.Start(_other);
        var self = Akka.Cluster.Cluster.Get(Sys).SelfAddress;
        var otherAddress = Akka.Cluster.Cluster.Get(_other).SelfAddress;
        var strategy = new DrainingAwareAllocation(ClusterSharding.Get(Sys).DefaultShardAllocationStrategy(ClusterShardingSettings.Create(Sys)), draining, self);
        strategy.Start(Sys);
        var local = Sys.ActorOf(Props.Empty, "local-region");
        _other.ActorOf(Props.Empty, "other-region");
        var remote = await Sys.ActorSelection(new RootActorPath(otherAddress) / "user" / "other-region").ResolveOne(Deadline);

        // The least loaded region gets a new shard, and shards move to it.
        Assert.Equal(remote, await strategy.AllocateShard(local, "new", Allocations((local, 3), (remote, 0))));
        Assert.NotEmpty(await strategy.Rebalance(Allocations((local, 6), (remote, 0)), ImmutableHashSet<string>.Empty));

        Assert.Equal((2, 2), await DrainingMembers.TellAllAsync(Akka.Cluster.Cluster.Get(_other), Deadline));
        Assert.True(draining.Contains(otherAddress));
        Assert.Equal(local, await strategy.AllocateShard(local, "new", Allocations((local, 3), (remote, 0))));
        Assert.Empty(await strategy.Rebalance(Allocations((local, 6), (remote, 0)), ImmutableHashSet<string>.Empty));

        // When every member drains (the whole cluster stops), shards still go somewhere.
        Assert.Equal((2, 2), await DrainingMembers.TellAllAsync(Akka.Cluster.Cluster.Get(Sys), Deadline));
        Assert.True(draining.Contains(self));
        Assert.Equal(remote, await strategy.AllocateShard(local, "new", Allocations((local, 3), (remote, 0))));

        var other = Akka.Cluster.Cluster.Get(_other);
        other.Leave(other.SelfAddress);
        await AwaitConditionAsync(() => Task.FromResult(!draining.Contains(otherAddress)), Deadline);
        Assert.True(draining.Contains(self));
    }

    [Fact]
    public void The_draining_notice_and_its_answer_survive_the_serializer()
    {
        var notice = new DrainingMembers.Draining("akka.tcp://router@127.0.0.1:2552");
        var serializer = Sys.Serialization.FindSerializerFor(notice);
        Assert.Equal(notice, Sys.Serialization.Deserialize(serializer.ToBinary(notice), serializer.Identifier, typeof(DrainingMembers.Draining)));
        var noted = Sys.Serialization.FindSerializerFor(DrainingMembers.Noted.Instance);
        Assert.IsType<DrainingMembers.Noted>(Sys.Serialization.Deserialize(noted.ToBinary(DrainingMembers.Noted.Instance), noted.Identifier, typeof(DrainingMembers.Noted)));
    }
}
