using Akka.Actor;
using Akka.Event;
using Router.Actors.Delivery;
using Router.Actors.Mailbox;

namespace Router.Actors.Storage;

/// <summary>
/// Every <c>router.queue.body-sweep-interval</c>, removes stored bodies that no owner can need any
/// more: those of messages refused (451) after their body was stored, whose release failed or
/// never came (the database was down, the node died), and bodies a release cut short between its
/// two steps. It looks only at references whose acceptance deadline (<see cref="IMessageStore"/>)
/// passed more than <c>router.queue.body-sweep-grace</c> ago: no session can still answer 250 for
/// those messages, so what an owner holds of them is settled.
/// <list type="bullet">
/// <item>A mailbox's reference is released here. A mailbox holds it only from the store until its
/// Maildir copy is durable, and drops it before it confirms; the 250 waits for that confirmation.
/// One still held belongs to a message that got no 250 (its client sends it again).</item>
/// <item>A domain queue's references go to the queue's entity (<see cref="DomainDeliveryActor.SweepBodies"/>),
/// which releases those its recovered state does not hold: only the queue knows whether an
/// envelope was persisted, by a write that may even have been reported as failed.</item>
/// <item>A body without any reference left is deleted.</item>
/// </list>
/// Every node runs one, and at each tick asks the store whether the sweep is its turn
/// (<see cref="IMessageStore.ClaimSweepAsync"/>): a cluster sweeps about once per interval, by
/// whichever node's timer comes first. What a sweep does is idempotent, so a sweep that stops
/// halfway (its node died) is only taken up by the next one.
/// </summary>
internal sealed class BodySweeper : ReceiveActor, IWithTimers
{
    /// <summary>At most this many queue ids per message to a domain (remoting frames are 128 KB).</summary>
    private const int IdsPerMessage = 1000;

    private readonly IMessageStore _store;
    private readonly IActorRef _domains;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _grace;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _sweeping;

    public BodySweeper(IMessageStore store, IActorRef domains, TimeSpan interval, TimeSpan grace)
    {
        _store = store;
        _domains = domains;
        _interval = interval;
        _grace = grace;
        Receive<Sweep>(_ => Start());
        Receive<Swept>(OnSwept);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IMessageStore store, IActorRef domains, TimeSpan interval, TimeSpan grace) =>
        Akka.Actor.Props.Create(() => new BodySweeper(store, domains, interval, grace));

    protected override void PreStart() => Timers.StartPeriodicTimer("sweep", Sweep.Instance, _interval, _interval);

    private void Start()
    {
        if (_sweeping) return;
        _sweeping = true;
        SweepAsync(_store, _domains, _interval, _grace).PipeTo(Self, failure: e => new Swept(0, 0, 0, e.GetBaseException().Message));
    }

    private static async Task<Swept> SweepAsync(IMessageStore store, IActorRef domains, TimeSpan interval, TimeSpan grace)
    {
        // A tenth of slack: this node's next tick must find its own claim old enough.
        if (!await store.ClaimSweepAsync(interval * 0.9).ConfigureAwait(false)) return Swept.NotOurTurn;
        var stale = await store.StaleReferencesAsync(grace).ConfigureAwait(false);
        var released = 0;
        foreach (var reference in stale.Where(r => MailboxActor.IsStoreOwner(r.Owner)))
        {
            await store.ReleaseAsync(reference.QueueId, reference.Owner).ConfigureAwait(false);
            released++;
        }
        var queues = stale.Where(r => !MailboxActor.IsStoreOwner(r.Owner)).GroupBy(r => r.Owner, StringComparer.Ordinal).ToArray();
        foreach (var queue in queues)
        {
            foreach (var ids in queue.Select(r => r.QueueId).Chunk(IdsPerMessage)) domains.Tell(new DomainDeliveryActor.SweepBodies(queue.Key, ids));
        }
        var dropped = await store.DropUnreferencedAsync(grace).ConfigureAwait(false);
        return new Swept(released, queues.Length, dropped, null);
    }

    private void OnSwept(Swept swept)
    {
        _sweeping = false;
        if (swept.Skipped)
        {
            _log.Debug("body sweep: another node swept less than {0} ago", _interval);
            return;
        }
        if (swept.Error is not null)
        {
            _log.Warning("body sweep failed ({0}); trying again in {1}", swept.Error, _interval);
            return;
        }
        if (swept.MailboxReferences > 0 || swept.Unreferenced > 0)
        {
            _log.Info("body sweep: released {0} mailbox references of messages that were not accepted; {1} bodies without references deleted",
                swept.MailboxReferences, swept.Unreferenced);
        }
        if (swept.Queues > 0) _log.Debug("body sweep: {0} domain queues asked to check their old references", swept.Queues);
    }

    private sealed record Sweep
    {
        public static readonly Sweep Instance = new();
    }

    private sealed record Swept(int MailboxReferences, int Queues, int Unreferenced, string? Error, bool Skipped = false)
    {
        public static readonly Swept NotOurTurn = new(0, 0, 0, null, Skipped: true);
    }
}
