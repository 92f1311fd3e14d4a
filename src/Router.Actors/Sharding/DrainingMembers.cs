using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;

namespace Router.Actors.Sharding;

/// <summary>
/// The members that are draining their sessions before they leave the cluster (a SIGTERM): no
/// shard is allocated to them any more. A shard allocated to a node in the moment its region
/// shuts down was never started there, and in Akka.Cluster.Sharding 1.5.73 its hand-off then
/// waits out the whole <c>handoff-timeout</c>, with every request for the shard held meanwhile
/// (docs/CLUSTER.md, "a hand-over that waits"): the region, with no shard of its own, stops at
/// once, and the coordinator's worker takes its termination for the acknowledgement of the
/// hand-off's first step. A node that stops tells every member first
/// (<see cref="TellAllAsync"/>), then drains, then hands its shards over; the shard allocation
/// strategy (<see cref="DrainingAwareAllocation"/>) of the coordinator, wherever it runs,
/// leaves it out.
/// </summary>
internal sealed class DrainingMembers
{
    /// <summary>The name of the actor on every member that keeps its node's view.</summary>
    public const string ActorName = "draining-members";

    private ImmutableHashSet<Address> _members = ImmutableHashSet<Address>.Empty;

    public bool Contains(Address member) => Volatile.Read(ref _members).Contains(member);

    private void Update(Func<ImmutableHashSet<Address>, ImmutableHashSet<Address>> change) =>
        ImmutableInterlocked.Update(ref _members, change);

    /// <summary>Starts this node's keeper of the set: told by draining members, it forgets each once it is removed from the cluster.</summary>
    public static DrainingMembers Start(ActorSystem system)
    {
        var members = new DrainingMembers();
        system.ActorOf(Props.Create(() => new Keeper(members)), ActorName);
        return members;
    }

    /// <summary>
    /// Tells every member (this one too) that this node drains, and waits up to
    /// <paramref name="timeout"/> until each has noted it: how many did, of how many asked.
    /// </summary>
    public static async Task<(int Noted, int Asked)> TellAllAsync(Cluster cluster, TimeSpan timeout)
    {
        var self = cluster.SelfAddress.ToString();
        var members = cluster.State.Members;
        var acks = members.Select(async m =>
        {
            try
            {
                var keeper = cluster.System.ActorSelection(new RootActorPath(m.Address) / "user" / ActorName);
                await keeper.Ask<Noted>(new Draining(self), timeout).ConfigureAwait(false);
                return 1;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ActorNotFoundException)
            {
                return 0; // gone, stopping too, or slow: the caller logs how many noted it
            }
        });
        return ((await Task.WhenAll(acks).ConfigureAwait(false)).Sum(), members.Count);
    }

    /// <summary>A member drains (the address as text: Akka's serializer carries strings as they are).</summary>
    public sealed record Draining(string Member);

    public sealed record Noted
    {
        public static readonly Noted Instance = new();
    }

    private sealed class Keeper : ReceiveActor
    {
        public Keeper(DrainingMembers members)
        {
            Receive<Draining>(d =>
            {
                var member = Address.Parse(d.Member);
                members.Update(s => s.Add(member));
                Sender.Tell(Noted.Instance);
            });
            // A node restarted on the same address joins only after its old incarnation is removed.
            Receive<ClusterEvent.MemberRemoved>(m => members.Update(s => s.Remove(m.Member.Address)));
        }

        protected override void PreStart() =>
            Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));

        protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
