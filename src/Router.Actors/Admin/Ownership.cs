using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;

namespace Router.Actors.Admin;

/// <summary>
/// What this node holds of the cluster: the members it sees up, and the shards and entities of
/// mailboxes and destination domains running here. After a node rejoins, its shard counts show
/// it taking its share back.
/// </summary>
public sealed record Ownership(int MembersUp, int MailboxShards, int MailboxEntities, int DomainShards, int DomainEntities)
{
    public static async Task<Ownership> OfAsync(ActorSystem system, IActorRef mailboxes, IActorRef domains, TimeSpan timeout)
    {
        var membersUp = Cluster.Get(system).State.Members.Count(m => m.Status == MemberStatus.Up);
        var states = await Task.WhenAll(
            mailboxes.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, timeout),
            domains.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, timeout)).ConfigureAwait(false);
        return new Ownership(
            membersUp,
            states[0].Shards.Count, states[0].Shards.Sum(s => s.EntityIds.Count),
            states[1].Shards.Count, states[1].Shards.Sum(s => s.EntityIds.Count));
    }
}
