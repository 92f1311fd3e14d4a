using Akka.Actor;
using Akka.Cluster.Sharding;
using Router.Actors.Delivery;

namespace Router.Actors.Admin;

/// <summary>
/// Queue administration (what mailq, postqueue -f and postsuper -d do in Postfix): list the
/// queues of the domain actors running on every member of the cluster, retry now, delete a
/// message. Asked on any node, it sees the whole cluster's queues: an operator has a queue id
/// from a bounce or a log line, not the node that owns it now. Each operation is a message to
/// the domain entity (sharding finds its node), which persists any change itself.
/// </summary>
public sealed class QueueAdmin(ActorSystem system, IActorRef domains, TimeSpan timeout)
{
    public async Task<IReadOnlyList<DomainDeliveryActor.QueueListing>> ListAsync()
    {
        // Each member's region of the same type, at the same path as ours.
        var regions = Akka.Cluster.Cluster.Get(system).State.Members
            .Where(m => m.Status == Akka.Cluster.MemberStatus.Up)
            .Select(m => system.ActorSelection(new RootActorPath(m.Address) / domains.Path.Elements));
        var states = await Task.WhenAll(regions.Select(StateOf)).ConfigureAwait(false);
        var listings = await Task.WhenAll(states
            .SelectMany(s => s?.Shards ?? [])
            .SelectMany(s => s.EntityIds)
            .Distinct(StringComparer.Ordinal)
            .Select(domain => domains.Ask<DomainDeliveryActor.QueueListing>(new DomainDeliveryActor.GetQueue(domain), timeout))).ConfigureAwait(false);
        return listings.Where(l => l.Messages.Length > 0).OrderBy(l => l.Domain, StringComparer.Ordinal).ToArray();
    }

    /// <summary>A member's region state; null when it does not answer (a member leaving), so one node does not fail the listing.</summary>
    private async Task<CurrentShardRegionState?> StateOf(ActorSelection region)
    {
        try
        {
            return await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    /// <summary>
    /// Moves waiting messages to "try now": all, one domain's, or one message. The answer also
    /// counts the queued messages the request named, so that an unknown id or a domain with
    /// nothing queued can be told apart from a message whose attempt is already under way.
    /// </summary>
    public async Task<DomainDeliveryActor.Retried> RetryAsync(string? domain, string? queueId)
    {
        var targets = domain is not null ? [domain] : (await ListAsync().ConfigureAwait(false))
            .Where(l => queueId is null || l.Messages.Any(m => m.QueueId == queueId))
            .Select(l => l.Domain)
            .ToArray();
        var done = await Task.WhenAll(targets.Select(d => domains.Ask<DomainDeliveryActor.Retried>(new DomainDeliveryActor.RetryNow(d, queueId), timeout))).ConfigureAwait(false);
        return new DomainDeliveryActor.Retried(done.Sum(d => d.Scheduled), done.Sum(d => d.Queued));
    }

    /// <summary>Deletes a message from every domain queue that holds it, without a bounce.</summary>
    public async Task<int> DeleteAsync(string queueId)
    {
        var holders = (await ListAsync().ConfigureAwait(false)).Where(l => l.Messages.Any(m => m.QueueId == queueId)).Select(l => l.Domain);
        var done = await Task.WhenAll(holders.Select(d => domains.Ask<DomainDeliveryActor.AdminDone>(new DomainDeliveryActor.DeleteMessage(d, queueId), timeout))).ConfigureAwait(false);
        return done.Sum(d => d.Count);
    }
}
