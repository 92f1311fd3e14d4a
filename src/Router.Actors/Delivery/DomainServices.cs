using Router.Actors.Configuration;
using Router.Actors.Security;
using Router.Actors.Storage;

namespace Router.Actors.Delivery;

/// <summary>What every domain delivery actor of a node shares; <paramref name="RelayCredentials"/>: router.relay.auth (null: none).</summary>
public sealed record DomainServices(
    RouterSettings Settings,
    DeliverySettings Delivery,
    IMxResolver Resolver,
    IMessageStore Store,
    DsnDispatcher Notices,
    RelayCredentials? RelayCredentials = null)
{
    /// <summary>
    /// In a cluster: for a domain, the check of whether this node still holds the lease of the
    /// domain's shard (<see cref="Sharding.ShardLeases"/>), by its own clock. Null: no leases (one node).
    /// </summary>
    public Func<string, Func<bool>>? LeaseCheck { get; init; }

    /// <summary>The node's delivery attempts at once, over all its destinations (router.delivery.max-connections).</summary>
    public DeliverySlots Slots { get; init; } = new(Delivery.MaxConnections);

    /// <summary>The node's outcomes that its queues' journals have not confirmed yet (kept across a queue's restarts).</summary>
    public UnrecordedOutcomes Outcomes { get; init; } = new();
}
