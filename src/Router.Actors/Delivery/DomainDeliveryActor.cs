using Akka.Actor;
using Router.Actors.Admin;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Router.Actors.Sharding;
using Router.Protocol;
using Router.Protocol.Dsn;

namespace Router.Actors.Delivery;

/// <summary>
/// Owns the queue of one destination domain (a persistent, sharded entity; Postfix's qmgr
/// per-destination queue plus its smtp clients). It persists a message's envelope before
/// acknowledging it, delivers with at most N concurrent attempts over pooled connections,
/// persists each recipient's outcome, retries deferred recipients on the persisted schedule,
/// sends one delay notice after the warning time, a bounce for failed recipients and for those
/// that an attempt made once the give-up time was reached still deferred (Postfix's
/// maximal_queue_lifetime), and a "relayed" notice for recipients that asked NOTIFY=SUCCESS and
/// went to a server without DSN (RFC 3464, RFC 3461 s5.2.2), and snapshots so its journal stays
/// short. State changes happen only in <see cref="DomainQueue.Apply"/>; this class decides and
/// performs the effects.
/// An <see cref="Enqueue"/> may come more than once (<see cref="ShardedAsk"/>): a repeat is
/// answered, never queued twice. On <see cref="HandOffStop"/> it starts nothing new and stops once
/// its journal writes and (for a while) its attempts in flight are done.
/// </summary>
public sealed class DomainDeliveryActor : ReceivePersistentActor, IWithTimers
{
    /// <summary>How often an attempt looks again for a body whose write has not completed yet.</summary>
    private static readonly TimeSpan BodyPollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>What a recipient of a message whose body was lost from the store gets (and its sender in the bounce).</summary>
    private static readonly SmtpReply BodyLost = new(554, "5.3.0", "The message was lost from the mail queue (its stored content is missing or damaged); please send it again");

    private readonly string _domain;
    private readonly DomainServices _services;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConnectionPool _pool;
    private readonly DeliveryAttempt _attempt;
    private readonly RetrySchedule _schedule;
    private readonly Queue<string> _ready = new();
    private readonly WaitingMessages _waiting = new();
    /// <summary>The attempts in flight, each with the concurrency round it started in.</summary>
    private readonly Dictionary<string, int> _attempting = [];
    private readonly HashSet<string> _notifying = [];
    private readonly CancellationTokenSource _stopping = new();
    /// <summary>In a cluster: whether this node still holds this domain's shard lease (null: one node, no leases).</summary>
    private readonly Func<bool>? _holdsLease;

    /// <summary>The messages being persisted, each with whom to answer.</summary>
    private readonly Dictionary<string, IActorRef> _enqueuing = [];
    /// <summary>Enqueues that arrived during the recovery (Akka stashes them): answered if it fails.</summary>
    private readonly List<(IActorRef ReplyTo, string QueueId)> _enqueuedWhileRecovering = [];
    private readonly RecentlyDone _recentlyDone;
    private bool _handingOff;
    private bool _handOffDeadlinePassed;

    /// <summary>A journal write failed and this actor is stopping: its attempts in flight run to their end (see <see cref="PostStop"/>).</summary>
    private bool _journalFailed;
    private DomainQueue _queue = new();
    private int _persisting;
    private int _eventsSinceSnapshot;
    private DateTimeOffset _nextStartAllowed = DateTimeOffset.MinValue;

    /// <summary>
    /// Until when the destination counts as down (Postfix's "delivery temporarily suspended"):
    /// an attempt that reached no server at all defers the other due messages without trying
    /// them, so a dead destination with a backlog costs one round of attempts per retry step, not
    /// a connection attempt (and its timeout) per message.
    /// </summary>
    private DateTimeOffset _suspendedUntil = DateTimeOffset.MinValue;

    /// <summary>When the current suspension began: one that began once a message's give-up time was reached expires it.</summary>
    private DateTimeOffset _suspendedSince;

    /// <summary>The result that suspended the destination (for the queue listing, and the last error of a message it expires).</summary>
    private RecipientResult? _suspendedBy;

    /// <summary>Messages not tried because of the suspension: tried at once when an attempt meanwhile finds a server again.</summary>
    private readonly HashSet<string> _heldBySuspension = [];

    private readonly DestinationConcurrency _concurrency;

    /// <summary>
    /// Outcomes an earlier incarnation left unrecorded (<see cref="UnrecordedOutcomes"/>) whose
    /// journal writes are in flight: no attempt starts until the journal took them all.
    /// </summary>
    private readonly HashSet<UnrecordedOutcomes.Outcome> _writingFirst = new(ReferenceEqualityComparer.Instance);

    public DomainDeliveryActor(string domain, DomainServices services)
    {
        _domain = domain;
        _services = services;
        var delivery = services.Delivery;
        _pool = new ConnectionPool(delivery.MaxMessagesPerConnection, delivery.ConnectionIdleTimeout);
        _attempt = new DeliveryAttempt(delivery, services.Settings.Hostname, services.Resolver, _pool, services.RelayCredentials, _log);
        _holdsLease = services.LeaseCheck?.Invoke(domain);
        _schedule = new RetrySchedule(delivery.RetrySchedule, delivery.RetryJitter);
        _concurrency = new DestinationConcurrency(delivery.InitialConnectionsPerDestination, delivery.MaxConnectionsPerDestination, delivery.RetrySchedule[0]);
        _recentlyDone = new RecentlyDone(services.Settings.DeliveryAckTimeout);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is DomainQueueSnapshot snapshot) _queue = DomainQueue.FromSnapshot(snapshot);
        });
        Recover<QueueEvent>(e => _queue.Apply(e));
        Recover<RecoveryCompleted>(_ => OnRecovered());

        Command<Enqueue>(OnEnqueue);
        Command<Tick>(_ => Kick());
        Command<DeliverySlots.Granted>(_ =>
        {
            Kick();
            // A grant this queue had no use for goes to the next one in line.
            _services.Slots.GiveBack(Self);
        });
        Command<AttemptDone>(OnAttemptDone);
        Command<NoticeDone>(OnNoticeDone);
        Command<SweepConnections>(_ => _pool.Sweep());
        Command<SweepBodies>(sweep => ReleaseUnheld(sweep.QueueIds));
        Command<GetQueue>(_ => Sender.Tell(Listing()));
        Command<RetryNow>(OnRetryNow);
        Command<DeleteMessage>(OnDelete);
        Command<ReceiveTimeout>(_ => MaybePassivate());
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning("snapshot of {0} failed: {1}", _domain, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("journal cleanup of {0} failed: {1}", _domain, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<HandOffStop>(_ => OnHandOffStop());
        Command<HandOffDeadline>(_ =>
        {
            _handOffDeadlinePassed = true;
            TryStopForHandOff();
        });
        Command<StopNow>(_ =>
        {
            if (ReadyToStop) Context.Stop(Self);
        });
    }

    public override string PersistenceId => "domain-" + _domain;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string domain, DomainServices services) =>
        Akka.Actor.Props.Create(() => new DomainDeliveryActor(domain, services));

    protected override void PreStart()
    {
        Context.SetReceiveTimeout(TimeSpan.FromMinutes(1));
        var sweep = _services.Delivery.ConnectionIdleTimeout / 2;
        Timers.StartPeriodicTimer("sweep", SweepConnections.Instance, sweep < TimeSpan.FromMilliseconds(200) ? TimeSpan.FromMilliseconds(200) : sweep);
    }

    protected override void PostStop()
    {
        // Attempts in flight are cut short (a hand-off, the node stopping), except when the journal
        // failed: one cut after its data went out may still be delivered, and would be sent again;
        // left to end (within their timeouts), their outcomes go into the node's record.
        if (!_journalFailed) _stopping.Cancel();
        // Its shard moves to another node, which knows nothing of this node's record: there an
        // outcome not in the journal means one more copy (at-least-once).
        if (_handingOff) _services.Outcomes.Forget(_domain);
        _services.Slots.Leave(Self);
        _ = _pool.DisposeAsync().AsTask();
        base.PostStop();
    }

    // ---- acceptance ----

    private void OnEnqueue(Enqueue enqueue)
    {
        var id = enqueue.Message.QueueId;
        if (_queue.Find(id) is not null || _recentlyDone.Contains(id))
        {
            // A repeat of a request already persisted (its first answer was slow or lost).
            Sender.Tell(new Accepted(id));
            return;
        }
        // A repeat of a request being persisted: its answer goes to the same asker.
        if (_enqueuing.ContainsKey(id)) return;
        if (enqueue.AnswerBy + StaleMargin < DateTimeOffset.UtcNow)
        {
            // Its session has answered 451 long ago (it waited while this shard waited for its
            // lease, or behind a slow journal): queueing it now would deliver a message its client
            // sends again.
            _log.Warning("{0}: not queued, its session stopped waiting for the answer at {1:O}", id, enqueue.AnswerBy);
            _ = _services.Store.ReleaseAsync(id, _domain);
            Sender.Tell(new NotAccepted(id, "the session stopped waiting"));
            return;
        }
        if (_persisting >= _services.Delivery.MaxPersistsInFlight)
        {
            // Bounded writes in flight: an unbounded burst times out in the journal.
            Stash.Stash();
            return;
        }
        var replyTo = Sender;
        _enqueuing.Add(id, replyTo);
        PersistEvent(new QueueEvent.Enqueued(enqueue.Message), e =>
        {
            _enqueuing.Remove(e.QueueId);
            replyTo.Tell(new Accepted(e.QueueId));
            _ready.Enqueue(e.QueueId);
            Kick();
        });
    }

    // ---- delivery ----

    private void OnRecovered()
    {
        var now = DateTimeOffset.UtcNow;
        var writing = WriteUnrecorded();
        foreach (var entry in _queue.Entries)
        {
            if (writing.Contains(entry.Message.QueueId)) continue; // scheduled once its outcome is written
            if (SendOwedNotice(entry)) continue;
            if (entry.NextAttempt <= now) _ready.Enqueue(entry.Message.QueueId);
            else _waiting.Add(entry.Message.QueueId, entry.NextAttempt);
        }
        _enqueuedWhileRecovering.Clear();
        if (_writingFirst.Count > 0) _log.Info("queue for {0} recovered with {1} messages; writing first {2} outcomes the journal did not record (their recipients are not tried again, their notices not sent again)", _domain, _queue.Count, _writingFirst.Count);
        else if (_queue.Count > 0) _log.Info("queue for {0} recovered with {1} messages", _domain, _queue.Count);
        ReleaseOrphans();
        Kick();
    }

    /// <summary>
    /// Writes what an earlier incarnation on this node did and its journal did not record (its
    /// write failed, or the queue stopped first): recipients a next hop settled, notices handed
    /// over. One the journal has after all (a write reported as failed may have been committed), or
    /// whose message is gone, is dropped. Returns the messages whose outcome is being written: they
    /// are scheduled, and any attempt starts, only once the journal took it; if it fails again the
    /// queue stops again, without having sent anything.
    /// </summary>
    private HashSet<string> WriteUnrecorded()
    {
        var writing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var outcome in _services.Outcomes.For(_domain))
        {
            var entry = _queue.Find(outcome.QueueId);
            switch (outcome)
            {
                case UnrecordedOutcomes.Attempt attempt when entry is not null && Settled(entry, attempt.Results, attempt.At) is var results && !results.All(r => Equals(entry.States[r.Index], r)):
                    _writingFirst.Add(outcome);
                    writing.Add(outcome.QueueId);
                    Record(entry, results, attempt.At, attempted: true, content: null, attempt);
                    break;
                case UnrecordedOutcomes.Notice notice when entry is not null && !Notified(entry, notice):
                    _writingFirst.Add(outcome);
                    writing.Add(outcome.QueueId);
                    _notifying.Add(outcome.QueueId);
                    RecordNotice(notice.QueueId, notice.Kind, notice.Recipients, notice);
                    break;
                default:
                    _services.Outcomes.Confirmed(outcome);
                    break;
            }
        }
        return writing;
    }

    /// <summary>Whether the journal already has the notice: its recipients marked done.</summary>
    private static bool Notified(QueueEntry entry, UnrecordedOutcomes.Notice notice) => notice.Kind switch
    {
        DsnKind.Failure => notice.Recipients.All(i => entry.BounceDone[i]),
        DsnKind.Relayed => notice.Recipients.All(i => i < entry.SuccessNoticeDone.Length && entry.SuccessNoticeDone[i]),
        _ => entry.DelayNotified,
    };

    /// <summary>An outcome the journal took (or no longer needs): out of the node's record, and no longer holding up attempts.</summary>
    private void Confirm(UnrecordedOutcomes.Outcome? outcome)
    {
        if (outcome is null) return;
        _services.Outcomes.Confirmed(outcome);
        _writingFirst.Remove(outcome);
    }

    /// <summary>
    /// Releases this domain's references to bodies that no queue entry holds: a crash between a
    /// message's last event and its release, or a message refused with 451 after its body was
    /// stored (its envelope never persisted, or persisted by a write reported as failed: then the
    /// entry is here and the body stays). Run after the recovery (listing this domain's references)
    /// and whenever a node's <see cref="Storage.BodySweeper"/> finds old references of this domain.
    /// <para>
    /// Why this never takes a body a queued message needs. The store lists only references whose
    /// acceptance deadline passed more than the sweep's grace ago. This queue persists an envelope
    /// only for an <see cref="Enqueue"/> that arrives before that deadline (plus a clock margin,
    /// <see cref="StaleMargin"/>): every envelope of a listed message was written, or is being
    /// written, before the listing. This actor is the one writer of its journal and this check
    /// runs after its recovery, so every such write is in <see cref="_queue"/>, or in
    /// <see cref="_enqueuing"/> while its callback is still due. What else the list holds belongs
    /// to no queued message. The grace (an hour by default) only has to cover a clock step of the
    /// store's server.
    /// </para>
    /// </summary>
    private void ReleaseOrphans()
    {
        var store = _services.Store;
        store.ListAsync(_domain, _services.Delivery.BodySweepGrace).ContinueWith(
            t => new SweepBodies(_domain, t.IsCompletedSuccessfully ? [.. t.Result] : []),
            TaskScheduler.Default).PipeTo(Self);
    }

    /// <summary>Releases, of references listed past their deadline and grace, those no queue entry holds.</summary>
    private void ReleaseUnheld(IReadOnlyList<string> queueIds)
    {
        foreach (var id in queueIds)
        {
            if (_queue.Find(id) is not null || _enqueuing.ContainsKey(id)) continue;
            _log.Info("{0}: releasing a body for {1} that no queue entry holds (left by a crash or by a message that was not accepted)", id, _domain);
            _ = _services.Store.ReleaseAsync(id, _domain);
        }
    }

    /// <summary>
    /// Starts the attempts that are due, within this destination's concurrency and rate limits and
    /// the node's delivery slots (a queue that finds none free is told when one is granted to it),
    /// then sets the timer for the next.
    /// </summary>
    private void Kick()
    {
        if (_handingOff)
        {
            TryStopForHandOff();
            return;
        }
        if (_holdsLease is { } holds && !holds())
        {
            // Fenced: this node's lease for the shard has lapsed (the process was paused, or the
            // database is away) and another node may run this queue now. No attempt starts; the
            // shard is being stopped.
            _log.Warning("{0}: no delivery attempt, this node no longer holds the shard's lease", _domain);
            return;
        }
        if (_writingFirst.Count > 0)
        {
            // Outcomes a failed journal write left behind come first: while the journal cannot
            // record them, nothing new starts (their callbacks kick again).
            return;
        }
        var now = DateTimeOffset.UtcNow;
        if (now >= _suspendedUntil) _heldBySuspension.Clear(); // the suspension is over: they are due anyway
        foreach (var id in _waiting.TakeDue(now)) _ready.Enqueue(id);
        var rated = _services.Delivery.RatePerDomain > 0;
        var inLine = false;
        while (_ready.Count > 0 && _attempting.Count < _concurrency.Limit)
        {
            if (rated && now < _nextStartAllowed) break;
            var id = _ready.Peek();
            if (Settle(id, now) is not { } attempt)
            {
                _ready.Dequeue();
                continue;
            }
            // The message stays first in line until this queue gets a slot.
            if (!_services.Slots.TryTake(Self))
            {
                inLine = true;
                break;
            }
            _ready.Dequeue();
            if (rated) _nextStartAllowed = now + TimeSpan.FromSeconds(1 / _services.Delivery.RatePerDomain);
            _attempting.Add(id, _concurrency.Round);
            RunAttemptAsync(_services, _attempt, attempt.Message, attempt.Pending, _stopping.Token).PipeTo(Self);
        }
        var next = _waiting.NextDue;
        if (rated && !inLine && _ready.Count > 0 && _attempting.Count < _concurrency.Limit && _nextStartAllowed < next) next = _nextStartAllowed;
        if (next == DateTimeOffset.MaxValue) Timers.Cancel("tick");
        else Timers.StartSingleTimer("tick", Tick.Instance, Max(next - now, TimeSpan.FromMilliseconds(1)));
    }

    /// <summary>
    /// A ready message: what its attempt is to deliver, or null when it needs none now, having
    /// done instead what it needed (nothing for one gone or already in hand, its owed notice, a
    /// wait for the suspension to end, its expiry under a suspension). A message whose give-up
    /// time has been reached is attempted once more like any other; that attempt's deferral
    /// expires it (<see cref="OnAttemptDone"/>).
    /// </summary>
    private (QueuedMessage Message, int[] Pending)? Settle(string id, DateTimeOffset now)
    {
        var entry = _queue.Find(id);
        if (entry is null || _attempting.ContainsKey(id) || _notifying.Contains(id)) return null;
        if (SendOwedNotice(entry)) return null;
        var message = entry.Message;
        var pending = entry.PendingRecipients.ToArray();
        if (pending.Length == 0) return null;
        if (now < _suspendedUntil)
        {
            if (_suspendedSince < ExpiryOf(message))
            {
                _waiting.Add(id, _suspendedUntil);
                _heldBySuspension.Add(id);
                return null;
            }
            // Postfix's qmgr defers a suspended destination's messages ("delivery temporarily
            // suspended"), and one so deferred past its lifetime expires. A message waits for the
            // suspension in force at its give-up time (about a first retry step), not for the
            // next: attempts to the destination made since that time reached no server.
            var suspension = _suspendedBy!;
            var expired = pending.Select(i => Expired(i, suspension with { Text = "delivery temporarily suspended: " + suspension.Text })).ToArray();
            Record(entry, expired, now, attempted: false, content: null);
            foreach (var r in expired) LogOutcome(message, r, relay: null);
            return null;
        }
        return (message, pending);
    }

    /// <summary>When a message's give-up time is reached: the time of its last attempt.</summary>
    private DateTimeOffset ExpiryOf(QueuedMessage message) => message.ArrivedAt + _services.Delivery.GiveUpAfter;

    /// <summary>
    /// Feeds an attempt's outcome (started in concurrency round <paramref name="round"/>) to the
    /// destination's concurrency (<see cref="DestinationConcurrency"/>, which holds a lowered limit
    /// for the first retry step). An attempt in which no server answered for any recipient (DNS
    /// failed, no host could be reached, every greeting was refused, connections dropped) lowers
    /// it, and once such attempts in a row make a whole cohort, suspends the destination for the
    /// first retry step (Postfix's "delivery temporarily suspended"). One in which a server
    /// answered raises it and ends a suspension: the messages it held back are tried at once.
    /// </summary>
    private void NoteDestination(RecipientResult[] results, int round, DateTimeOffset now)
    {
        if (results.Any(r => r.RemoteMta is not null))
        {
            _concurrency.Answered(now);
            LiftSuspension();
            return;
        }
        // Expired or permanently refused (no such domain, null MX): no news about the destination.
        if (results.Any(r => r.Outcome != RecipientOutcome.Deferred) || now < _suspendedUntil) return;
        if (!_concurrency.Failed(round, now)) return;
        _suspendedSince = now;
        _suspendedUntil = _schedule.Next(now, 1, Random.Shared);
        _suspendedBy = results[0];
        _heldBySuspension.Clear();
        _log.Warning("delivery to {0} temporarily suspended until {1:u}: {2}", _domain, _suspendedUntil, _suspendedBy.FullReply());
    }

    /// <summary>Ends a suspension: the messages it held back are ready at once.</summary>
    private void LiftSuspension()
    {
        _suspendedUntil = DateTimeOffset.MinValue;
        foreach (var held in _heldBySuspension)
        {
            foreach (var id in _waiting.Take(held)) _ready.Enqueue(id);
        }
        _heldBySuspension.Clear();
    }

    /// <summary>
    /// One attempt, holding one of the node's delivery slots until it ends, whether or not this
    /// actor is still there to hear of it. Recipients it settled go into the node's
    /// <see cref="UnrecordedOutcomes"/> at once: should this actor have stopped meanwhile (its
    /// journal failed), the next one records them instead of sending again.
    /// </summary>
    private static async Task<AttemptDone> RunAttemptAsync(DomainServices services, DeliveryAttempt attempt, QueuedMessage message, int[] pending, CancellationToken ct)
    {
        try
        {
            var content = await services.Store.LoadAsync(message.QueueId, message.Domain, ct).ConfigureAwait(false);
            if (content is null) return new AttemptDone(message.QueueId, null, null);
            var results = await attempt.RunAsync(message, pending, content, ct).ConfigureAwait(false);
            var at = DateTimeOffset.UtcNow;
            UnrecordedOutcomes.Attempt? unrecorded = null;
            if (UnrecordedOutcomes.Attempt.Settles(results)) services.Outcomes.Add(unrecorded = new(message.Domain, message.QueueId, results, at));
            return new AttemptDone(message.QueueId, results, content, unrecorded);
        }
        catch (Exception e)
        {
            var error = new SmtpReply(451, "4.3.0", "Local error during delivery: " + e.Message);
            return new AttemptDone(message.QueueId, pending.Select(i => RecipientResult.From(i, error, null)).ToArray(), null);
        }
        finally
        {
            services.Slots.Release();
        }
    }

    private void OnAttemptDone(AttemptDone done)
    {
        _attempting.Remove(done.QueueId, out var round);
        var entry = _queue.Find(done.QueueId);
        if (entry is null)
        {
            Confirm(done.Unrecorded); // deleted meanwhile: nothing to record
            Kick();
            return;
        }
        var now = DateTimeOffset.UtcNow;
        if (done.Results is null)
        {
            // No body yet. The relay stores it before it enqueues, but the queue does not rely on
            // that order: a body whose write is still completing is looked for again shortly,
            // until the session's acknowledgement deadline has passed.
            var deadline = entry.Message.ArrivedAt + _services.Settings.DeliveryAckTimeout;
            if (now < deadline)
            {
                var again = now + BodyPollInterval;
                _waiting.Add(done.QueueId, again < deadline ? again : deadline);
                Kick();
                return;
            }
            // Still no body after the deadline. The relay stores a body before it enqueues the
            // envelope, so it was lost after the 250 (a damaged spool, see SpoolLog.Damaged): the
            // recipients fail and the sender is told (RFC 5321 s6.1), with no content to return,
            // rather than the message vanishing.
            _log.Error("{0}: body missing from the store; the message is lost for {1} and returned to its sender", done.QueueId, _domain);
            var lost = entry.PendingRecipients.Select(i => RecipientResult.From(i, BodyLost, null)).ToArray();
            Record(entry, lost, now, attempted: false, content: []);
            foreach (var r in lost) LogOutcome(entry.Message, r, null);
            return;
        }
        // The attempt ended once the give-up time was reached: what it deferred expires, with its reply.
        var results = Settled(entry, done.Results, now);
        NoteDestination(results, round, now);
        Record(entry, results, now, attempted: true, done.Content, done.Unrecorded);
        foreach (var r in results)
        {
            RouterMetrics.RemoteOutcome(r.Outcome);
            LogOutcome(entry.Message, r, r.RelayHost());
        }
    }

    /// <summary>An attempt's results as recorded: past the give-up time at <paramref name="at"/>, a deferred recipient has expired.</summary>
    private RecipientResult[] Settled(QueueEntry entry, RecipientResult[] results, DateTimeOffset at) =>
        at >= ExpiryOf(entry.Message)
            ? results.Select(r => r.Outcome == RecipientOutcome.Deferred ? Expired(r.Index, r) : r).ToArray()
            : results;

    /// <summary>
    /// One line per recipient and outcome (Postfix's status= lines). A recipient that expired is
    /// "Expired, returned to sender" when its sender is owed a bounce (RFC 3461 NOTIFY, not a null
    /// sender); the reply is the last one it got.
    /// </summary>
    private void LogOutcome(QueuedMessage message, RecipientResult r, string? relay)
    {
        var status = r.Expired
            ? QueueEntry.WantsNotice(message, r.Index, DsnNotify.Failure) ? "Expired, returned to sender" : "Expired"
            : r.Outcome == RecipientOutcome.Delivered ? "Sent" // Postfix's word (status=sent), as the local delivery line writes it
            : r.Outcome.ToString();
        _log.Info("{0}: to=<{1}> relay={2} status={3} ({4})", message.QueueId, message.Recipients[r.Index].Address, relay ?? "none", status, r.FullReply());
    }

    /// <summary>
    /// Persists an attempt's results (<paramref name="attempted"/>: an attempt ended
    /// <paramref name="now"/>; false: the message expired under a suspension, or its body was
    /// lost), then sends the notices they call for and schedules what is left: the next attempt
    /// is at the give-up time at the latest, so the last one is made then. <paramref name="unrecorded"/>:
    /// the same results in the node's <see cref="UnrecordedOutcomes"/>, which they leave once written.
    /// </summary>
    private void Record(QueueEntry entry, RecipientResult[] results, DateTimeOffset now, bool attempted, byte[]? content, UnrecordedOutcomes.Attempt? unrecorded = null)
    {
        var message = entry.Message;
        var next = _schedule.Next(now, entry.Attempts + 1, Random.Shared);
        var expiry = ExpiryOf(message);
        if (next > expiry) next = expiry > now ? expiry : now;
        PersistEvent(new QueueEvent.Attempted(message.QueueId, results, next, attempted ? now : null), e =>
        {
            Confirm(unrecorded);
            var current = _queue.Find(e.QueueId);
            if (current is null)
            {
                // Finished: its slot is free for the next ready message.
                Kick();
                return;
            }
            if (!SendOwedNotice(current, content) && !current.DelayNotified && now - message.ArrivedAt >= _services.Delivery.WarnAfter && current.PendingRecipients.Any())
            {
                SendNotice(current, DsnKind.Delay, current.PendingRecipients.ToArray(), content);
            }
            if (current.PendingRecipients.Any() && !_notifying.Contains(e.QueueId)) _waiting.Add(e.QueueId, current.NextAttempt);
            Kick();
        });
    }

    // ---- delivery status notifications ----

    /// <summary>
    /// Sends the next notice the entry owes, bounces before "relayed" notices (one notice at a time
    /// per message); false when it owes none. What is owed is queue state, so a crash before the
    /// hand-over sends it after recovery.
    /// </summary>
    private bool SendOwedNotice(QueueEntry entry, byte[]? content = null)
    {
        if (entry.OwedBounces() is { Length: > 0 } failed) SendNotice(entry, DsnKind.Failure, failed, content);
        else if (entry.OwedSuccessNotices() is { Length: > 0 } relayed) SendNotice(entry, DsnKind.Relayed, relayed, content);
        else return false;
        return true;
    }

    private void SendNotice(QueueEntry entry, DsnKind kind, int[] recipients, byte[]? content = null)
    {
        if (_handingOff) return; // the next owner sends it after its recovery
        var message = entry.Message;
        var wanted = recipients.Where(i => QueueEntry.WantsNotice(message, i, kind.Condition())).ToArray();
        if (wanted.Length == 0)
        {
            // Null sender, or NOTIFY excludes it: settle without sending anything (RFC 3461 s4.1).
            Self.Tell(new NoticeDone(message.QueueId, kind, recipients, new DsnDispatcher.Sent(true, null, null)));
            _notifying.Add(message.QueueId);
            return;
        }
        _notifying.Add(message.QueueId);
        var willRetryUntil = message.ArrivedAt + _services.Delivery.GiveUpAfter;
        var dsnRecipients = wanted.Select(i =>
        {
            var state = entry.States[i];
            var reply = state?.ToReply();
            var status = state is { Expired: true } ? "5.4.7" : reply?.Enhanced ?? DsnBuilder.StatusFor(kind, null);
            return new DsnRecipient(MailAddress.FromText(message.Recipients[i].Address), status)
            {
                OriginalRecipient = message.Recipients[i].OriginalRecipient,
                RemoteMta = state?.RemoteMta,
                RemoteReply = state?.RemoteMta is null ? null : reply,
                Reason = state is { Expired: true }
                    ? $"Delivery time expired after {HumanDuration.Format(_services.Delivery.GiveUpAfter)}" + (state.RemoteMta is null ? $"; last error: {reply?.Text}" : "")
                    : state?.RemoteMta is null ? reply?.Text : null,
                LastAttemptDate = entry.LastAttemptAt,
                WillRetryUntil = kind == DsnKind.Delay ? willRetryUntil : null,
            };
        }).ToArray();
        var services = _services;
        SendNoticeAsync(services, message, kind, recipients, dsnRecipients, MailAddress.FromText(message.Sender!), content).PipeTo(Self);
    }

    private static async Task<NoticeDone> SendNoticeAsync(DomainServices services, QueuedMessage message, DsnKind kind, int[] recipients, DsnRecipient[] dsnRecipients, MailAddress sender, byte[]? content)
    {
        try
        {
            content ??= await services.Store.LoadAsync(message.QueueId, message.Domain, CancellationToken.None).ConfigureAwait(false) ?? [];
            var request = new DsnRequest(kind, services.Settings.Hostname, sender, dsnRecipients, content, message.ArrivedAt)
            {
                OriginalEnvelopeId = message.EnvelopeId,
                ReturnFullMessage = message.ReturnFull,
            };
            var sent = await services.Notices.SendAsync(request).ConfigureAwait(false);
            // Handed over: the next incarnation records it rather than sending it again, should this one have stopped.
            UnrecordedOutcomes.Notice? unrecorded = null;
            if (sent.Ok) services.Outcomes.Add(unrecorded = new(message.Domain, message.QueueId, kind, recipients));
            return new NoticeDone(message.QueueId, kind, recipients, sent, unrecorded);
        }
        catch (Exception)
        {
            return new NoticeDone(message.QueueId, kind, recipients, new DsnDispatcher.Sent(false, null, null));
        }
    }

    private void OnNoticeDone(NoticeDone done)
    {
        var entry = _queue.Find(done.QueueId);
        if (entry is null)
        {
            Confirm(done.Unrecorded);
            _notifying.Remove(done.QueueId);
            return;
        }
        if (!done.Sent.Ok)
        {
            _notifying.Remove(done.QueueId);
            _log.Warning("{0}: could not hand over the {1} notice; trying again in a minute", done.QueueId, done.Kind);
            _waiting.Add(done.QueueId, DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1));
            Kick();
            return;
        }
        // Postfix's words, so that "did the sender get a bounce?" has its answer in the log.
        var notice = done.Kind switch
        {
            DsnKind.Failure => "non-delivery",
            DsnKind.Delay => "delay",
            _ => "delivery status",
        };
        if (done.Sent.NoticeId is { } noticeId) _log.Info("{0}: sender {1} notification: {2}", done.QueueId, notice, noticeId);
        else if (done.Sent.Refusal is { } refusal) _log.Warning("{0}: sender {1} notification to <{2}> dropped: {3}", done.QueueId, notice, entry.Message.Sender, refusal);
        RecordNotice(done.QueueId, done.Kind, done.Recipients, done.Unrecorded);
    }

    /// <summary>
    /// Persists that a notice was handed over (or none was due), then sends the next one owed or
    /// schedules what is left. <paramref name="unrecorded"/>: the same fact in the node's
    /// <see cref="UnrecordedOutcomes"/>, which it leaves once written.
    /// </summary>
    private void RecordNotice(string queueId, DsnKind kind, int[] recipients, UnrecordedOutcomes.Notice? unrecorded)
    {
        QueueEvent e = kind switch
        {
            DsnKind.Failure => new QueueEvent.Bounced(queueId, recipients),
            DsnKind.Relayed => new QueueEvent.SuccessNotified(queueId, recipients),
            _ => new QueueEvent.DelayNotified(queueId),
        };
        // Still "notifying" until the event is applied: a Kick meanwhile must not send the notice again.
        PersistEvent(e, persisted =>
        {
            Confirm(unrecorded);
            _notifying.Remove(persisted.QueueId);
            var current = _queue.Find(persisted.QueueId);
            // A message may owe another notice (a bounce and a "relayed" notice): the next one now.
            if (current is not null && !SendOwedNotice(current) && current.PendingRecipients.Any()) _waiting.Add(persisted.QueueId, current.NextAttempt);
            Kick();
        });
    }

    // ---- administration (router queue ...) ----

    private void OnRetryNow(RetryNow retry)
    {
        // The operator asks for an attempt now: that overrides a suspension (postqueue -f).
        var moved = _waiting.Take(retry.QueueId);
        foreach (var id in moved) _ready.Enqueue(id);
        LiftSuspension();
        var queued = retry.QueueId is null ? _queue.Count : _queue.Find(retry.QueueId) is null ? 0 : 1;
        Sender.Tell(new Retried(moved.Count, queued));
        Kick();
    }

    private void OnDelete(DeleteMessage delete)
    {
        if (_queue.Find(delete.QueueId) is null)
        {
            Sender.Tell(new AdminDone(0));
            return;
        }
        var replyTo = Sender;
        PersistEvent(new QueueEvent.Removed(delete.QueueId), _ =>
        {
            // Postfix's postsuper -d line: the message leaves the queue without a notice.
            _log.Info("{0}: removed", delete.QueueId);
            replyTo.Tell(new AdminDone(1));
        });
    }

    // ---- bookkeeping ----

    /// <summary>
    /// Persists without stopping the mailbox (the journal batches concurrent writes); once written:
    /// apply, release the body of a finished message, snapshot now and then, then <paramref name="then"/>.
    /// </summary>
    private void PersistEvent<T>(T e, Action<T> then)
        where T : QueueEvent
    {
        _persisting++;
        PersistAsync(e, persisted =>
        {
            _persisting--;
            Applied(persisted);
            then(persisted);
            if (_handingOff) TryStopForHandOff();
        });
    }

    private void Applied(QueueEvent e)
    {
        _queue.Apply(e);
        if (_queue.Find(e.QueueId) is null)
        {
            _ = _services.Store.ReleaseAsync(e.QueueId, _domain);
            _recentlyDone.Add(e.QueueId);
        }
        // A snapshot costs as much as the queue is long: taken after as many events as the queue
        // holds (at least snapshot-every), it costs a constant share per event however long a
        // backlog grows, and a recovery still replays no more events than the snapshot holds entries.
        if (++_eventsSinceSnapshot >= Math.Max(_services.Delivery.SnapshotEvery, _queue.Count))
        {
            _eventsSinceSnapshot = 0;
            SaveSnapshot(_queue.ToSnapshot());
        }
        if (_persisting < _services.Delivery.MaxPersistsInFlight) Stash.UnstashAll();
    }

    /// <summary>
    /// A rejected event (the journal refused it, e.g. it could not serialize it) never runs its
    /// handler: give its in-flight slot back, or enough rejections would stall the queue for good.
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _persisting--;
        if (@event is QueueEvent.Enqueued enqueued && _enqueuing.Remove(enqueued.QueueId, out var replyTo))
            replyTo.Tell(new NotAccepted(enqueued.QueueId, "the journal rejected the envelope: " + cause.Message));
        if (_handingOff) TryStopForHandOff();
        if (_persisting < _services.Delivery.MaxPersistsInFlight) Stash.UnstashAll();
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    // ---- journal unavailable (e.g. a PostgreSQL outage) ----

    /// <summary>
    /// A failed write stops this actor (Akka), with every write in flight: their sessions get
    /// <see cref="NotAccepted"/> now (451 at once, the client retries), not the acknowledgement
    /// timeout's silence. A write that failed may still have been committed: the retry then makes
    /// a second copy (at-least-once), never a 250 without the commit. The outcomes it could not
    /// write stay in the node's <see cref="UnrecordedOutcomes"/>: the next incarnation (sharding
    /// starts one after its entity-restart-backoff) writes them before it sends anything, so a
    /// journal that keeps failing (a full disk) sends nothing again. One line, not Akka's stack
    /// trace on every restart.
    /// </summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        var reason = "the journal failed: " + cause.GetBaseException().Message;
        foreach (var (queueId, replyTo) in _enqueuing) replyTo.Tell(new NotAccepted(queueId, reason));
        _enqueuing.Clear();
        foreach (var stashed in Stash.ClearStash())
        {
            if (stashed.Message is Enqueue e) stashed.Sender.Tell(new NotAccepted(e.Message.QueueId, reason));
        }
        _journalFailed = true;
        var held = _services.Outcomes.For(_domain).Length;
        // Postfix's shape: the queue id first, then what happened and what follows.
        _log.Error("{0}: queue for {1} stopped: journal write ({2}) failed: {3}; {4} delivery outcomes held in memory, written before any new attempt", @event is QueueEvent q ? q.QueueId : "-", _domain, @event.GetType().Name, cause.GetBaseException().Message.TrimEnd('.'), held);
    }

    /// <summary>A failed recovery stops this actor too: the Enqueues it held get <see cref="NotAccepted"/> at once.</summary>
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        var why = "the queue could not be loaded: " + reason.GetBaseException().Message;
        foreach (var (replyTo, queueId) in _enqueuedWhileRecovering) replyTo.Tell(new NotAccepted(queueId, why));
        _enqueuedWhileRecovering.Clear();
        base.OnRecoveryFailure(reason, message);
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is Enqueue e && IsRecovering) _enqueuedWhileRecovering.Add((Sender, e.Message.QueueId));
        return base.AroundReceive(receive, message);
    }

    // ---- hand-off (rebalance, node leaving) ----

    /// <summary>
    /// Its shard moves to another node: start nothing new; stop once the journal writes in flight
    /// are done (each answers a session or records an outcome) and the attempts in flight have
    /// finished, or after a quarter of the acknowledgement timeout, when the next owner must take
    /// over; it retries an attempt cut short. Requests for this domain wait in the shard regions meanwhile.
    /// </summary>
    private void OnHandOffStop()
    {
        if (_handingOff) return;
        _handingOff = true;
        Timers.Cancel("tick");
        Timers.StartSingleTimer("hand-off", HandOffDeadline.Instance, _services.Settings.OwnerHandOffDeadline);
        TryStopForHandOff();
    }

    private bool ReadyToStop => _handingOff && _persisting == 0 && Stash.IsEmpty && (_attempting.Count == 0 || _handOffDeadlinePassed);

    /// <summary>Stops through the mailbox, so that requests just unstashed are persisted and answered first.</summary>
    private void TryStopForHandOff()
    {
        if (ReadyToStop) Self.Tell(StopNow.Instance);
    }

    private void MaybePassivate()
    {
        if (_queue.Count == 0 && _attempting.Count == 0 && _notifying.Count == 0 && _persisting == 0)
        {
            Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        }
    }

    /// <summary>Gives up on a recipient, keeping the last reply it got (RFC 3464: the Diagnostic-Code is what the remote said).</summary>
    private static RecipientResult Expired(int index, RecipientResult last) =>
        last with { Index = index, Outcome = RecipientOutcome.Failed, Expired = true };

    private QueueListing Listing()
    {
        var suspended = DateTimeOffset.UtcNow < _suspendedUntil;
        return new QueueListing(_domain, _queue.Entries.Select(Describe).ToArray())
        {
            SuspendedUntil = suspended ? _suspendedUntil : null,
            SuspendedFor = suspended ? _suspendedBy?.FullReply() : null,
            ConnectionLimit = _concurrency.Limit,
            Attempting = _attempting.Count,
        };
    }

    private static QueueItem Describe(QueueEntry e) => new(
        e.Message.QueueId,
        e.Message.Sender,
        e.Message.Recipients.Select((r, i) => new QueueItemRecipient(r.Address, e.States[i]?.Outcome.ToString() ?? "Pending", e.States[i]?.FullReply())).ToArray(),
        e.Message.ArrivedAt,
        e.Message.Size,
        e.Attempts,
        e.NextAttempt);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>How long past its session's deadline an Enqueue is still queued: room for the clocks of two nodes to differ.</summary>
    internal static readonly TimeSpan StaleMargin = TimeSpan.FromSeconds(2);

    // ---- messages ----

    /// <summary>
    /// Queue a message for this domain; answered with <see cref="Accepted"/> once the envelope is
    /// persisted. <paramref name="AnswerBy"/>: when the session stops waiting and answers 451.
    /// </summary>
    public sealed record Enqueue(string Domain, QueuedMessage Message, DateTimeOffset? AnswerBy = null);

    public sealed record Accepted(string QueueId);

    /// <summary>The envelope could not be persisted (the journal is unavailable): the session answers 451 at once.</summary>
    public sealed record NotAccepted(string QueueId, string Reason);

    /// <summary>
    /// From <see cref="Storage.BodySweeper"/>, and from the queue itself after its recovery: this
    /// domain's references that the store listed as past their acceptance deadline and the sweep's
    /// grace; those the queue does not hold are released. No answer.
    /// </summary>
    public sealed record SweepBodies(string Domain, string[] QueueIds) : INotInfluenceReceiveTimeout;

    public sealed record GetQueue(string Domain);

    public sealed record QueueListing(string Domain, QueueItem[] Messages)
    {
        /// <summary>Until when the destination is suspended (a whole cohort of attempts reached no server); null when it is not.</summary>
        public DateTimeOffset? SuspendedUntil { get; init; }

        /// <summary>With <see cref="SuspendedUntil"/>: the error that suspended it.</summary>
        public string? SuspendedFor { get; init; }

        /// <summary>Delivery attempts the destination may have at once now (its concurrency feedback).</summary>
        public int ConnectionLimit { get; init; }

        /// <summary>Delivery attempts in flight.</summary>
        public int Attempting { get; init; }
    }

    public sealed record QueueItem(string QueueId, string? Sender, QueueItemRecipient[] Recipients, DateTimeOffset ArrivedAt, long Size, int Attempts, DateTimeOffset NextAttempt);

    public sealed record QueueItemRecipient(string Address, string State, string? LastReply);

    /// <summary>Try now what waits for its retry time (one message, or all when QueueId is null).</summary>
    public sealed record RetryNow(string Domain, string? QueueId);

    public sealed record DeleteMessage(string Domain, string QueueId);

    public sealed record AdminDone(int Count);

    /// <summary>The answer to <see cref="RetryNow"/>: how many messages were moved to "try now", of how many queued that it named (one in flight is queued but not moved).</summary>
    public sealed record Retried(int Scheduled, int Queued);

    private sealed record Tick : INotInfluenceReceiveTimeout
    {
        public static readonly Tick Instance = new();
    }

    private sealed record SweepConnections : INotInfluenceReceiveTimeout
    {
        public static readonly SweepConnections Instance = new();
    }

    /// <summary><paramref name="Unrecorded"/>: the settled results as held in the node's <see cref="UnrecordedOutcomes"/> until written.</summary>
    private sealed record AttemptDone(string QueueId, RecipientResult[]? Results, byte[]? Content, UnrecordedOutcomes.Attempt? Unrecorded = null);

    private sealed record HandOffDeadline
    {
        public static readonly HandOffDeadline Instance = new();
    }

    private sealed record StopNow
    {
        public static readonly StopNow Instance = new();
    }

    /// <summary>The queue ids that left the queue within the last acknowledgement timeout: a late repeat of their Enqueue must not queue them again.</summary>
    private sealed class RecentlyDone(TimeSpan keep)
    {
        private readonly Queue<(DateTimeOffset At, string Id)> _order = new();
        private readonly HashSet<string> _ids = [];

        public bool Contains(string id) => _ids.Contains(id);

        public void Add(string id)
        {
            var now = DateTimeOffset.UtcNow;
            while (_order.Count > 0 && now - _order.Peek().At > keep) _ids.Remove(_order.Dequeue().Id);
            if (_ids.Add(id)) _order.Enqueue((now, id));
        }
    }

    private sealed record NoticeDone(string QueueId, DsnKind Kind, int[] Recipients, DsnDispatcher.Sent Sent, UnrecordedOutcomes.Notice? Unrecorded = null);

    /// <summary>Routes domain messages to the entity of their domain.</summary>
    public sealed class MessageExtractor() : HashCodeMessageExtractor(100)
    {
        public override string? EntityId(object message) => message switch
        {
            Enqueue e => e.Domain,
            GetQueue g => g.Domain,
            RetryNow r => r.Domain,
            DeleteMessage d => d.Domain,
            SweepBodies s => s.Domain,
            _ => null,
        };
    }
}
