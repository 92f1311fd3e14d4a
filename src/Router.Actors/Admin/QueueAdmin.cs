using Akka.Actor;
using Akka.Cluster.Sharding;
using Router.Actors.Delivery;

namespace Router.Actors.Admin;

/// <summary>
/// Queue administration for this node (what mailq, postqueue -f and postsuper -d do in Postfix):
/// list the queues of the domain actors running here, retry now, delete a message. Each
/// operation is a message to the domain entity, which persists any change itself.
/// </summary>
public sealed class QueueAdmin(IActorRef domains, TimeSpan timeout)
{
    public async Task<IReadOnlyList<DomainDeliveryActor.QueueListing>> ListAsync()
    {
        var state = await domains.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, timeout).ConfigureAwait(false);
        var listings = await Task.WhenAll(state.Shards
            .SelectMany(s => s.EntityIds)
            .Select(domain => domains.Ask<DomainDeliveryActor.QueueListing>(new DomainDeliveryActor.GetQueue(domain), timeout))).ConfigureAwait(false);
        return listings.Where(l => l.Messages.Length > 0).OrderBy(l => l.Domain, StringComparer.Ordinal).ToArray();
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
