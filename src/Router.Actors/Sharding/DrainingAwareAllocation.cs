using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;

namespace Router.Actors.Sharding;

/// <summary>
/// A shard allocation strategy that leaves the members that drain before they leave
/// (<see cref="DrainingMembers"/>) out of <c>inner</c>'s choice, for allocation and rebalance alike,
/// unless every region is draining. <c>self</c> is this node's address (a local region's has none).
/// </summary>
internal sealed class DrainingAwareAllocation(IShardAllocationStrategy inner, DrainingMembers draining, Address self) : IActorSystemDependentAllocationStrategy
{
    public void Start(ActorSystem system)
    {
        switch (inner)
        {
            case IActorSystemDependentAllocationStrategy dependent:
                dependent.Start(system);
                break;
            case IStartableAllocationStrategy startable:
                startable.Start();
                break;
        }
    }

    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId, IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations) =>
        inner.AllocateShard(requester, shardId, Available(currentShardAllocations));

    public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations, IImmutableSet<string> rebalanceInProgress) =>
        inner.Rebalance(Available(currentShardAllocations), rebalanceInProgress);

    private IImmutableDictionary<IActorRef, IImmutableList<string>> Available(IImmutableDictionary<IActorRef, IImmutableList<string>> regions)
    {
        var available = regions.RemoveRange(regions.Keys.Where(r => draining.Contains(r.Path.Address.HasLocalScope ? self : r.Path.Address)));
        return available.Count > 0 ? available : regions;
    }
}
