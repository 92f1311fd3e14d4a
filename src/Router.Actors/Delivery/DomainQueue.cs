using Router.Protocol;

namespace Router.Actors.Delivery;

/// <summary>
/// The state of one destination domain's queue, changed only by applying <see cref="QueueEvent"/>s
/// (so recovery replays exactly what happened). Decisions that need no I/O live here too: which
/// messages are due, who still needs a bounce or a "relayed" notice, whether a message is
/// finished. An owed notice keeps its message queued (and its body stored) until the notice is
/// handed over, so a crash in between sends it after recovery. Pure.
/// </summary>
public sealed class DomainQueue
{
    private readonly Dictionary<string, QueueEntry> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public IEnumerable<QueueEntry> Entries => _entries.Values;

    public QueueEntry? Find(string queueId) => _entries.GetValueOrDefault(queueId);

    public void Apply(QueueEvent e)
    {
        switch (e)
        {
            case QueueEvent.Enqueued enq:
                _entries[enq.QueueId] = new QueueEntry
                {
                    Message = enq.Message,
                    States = new RecipientResult?[enq.Message.Recipients.Length],
                    BounceDone = new bool[enq.Message.Recipients.Length],
                    SuccessNoticeDone = new bool[enq.Message.Recipients.Length],
                    NextAttempt = enq.Message.ArrivedAt,
                };
                break;
            case QueueEvent.Attempted attempted when _entries.TryGetValue(attempted.QueueId, out var entry):
                entry.Attempts++;
                if (attempted.AttemptedAt is { } at) entry.LastAttemptAt = at;
                foreach (var r in attempted.Results)
                {
                    entry.States[r.Index] = r;
                    // No bounce is owed where the sender asked for none or is null (RFC 3461 s4.1).
                    if (r.Outcome == RecipientOutcome.Failed && !QueueEntry.WantsNotice(entry.Message, r.Index, DsnNotify.Failure)) entry.BounceDone[r.Index] = true;
                }
                entry.NextAttempt = attempted.NextAttempt;
                RemoveIfFinished(entry);
                break;
            case QueueEvent.DelayNotified delayed when _entries.TryGetValue(delayed.QueueId, out var entry):
                entry.DelayNotified = true;
                break;
            case QueueEvent.Bounced bounced when _entries.TryGetValue(bounced.QueueId, out var entry):
                foreach (var i in bounced.Recipients) entry.BounceDone[i] = true;
                RemoveIfFinished(entry);
                break;
            case QueueEvent.SuccessNotified notified when _entries.TryGetValue(notified.QueueId, out var entry):
                foreach (var i in notified.Recipients) entry.SuccessNoticeDone[i] = true;
                RemoveIfFinished(entry);
                break;
            case QueueEvent.Removed removed:
                _entries.Remove(removed.QueueId);
                break;
        }
    }

    private void RemoveIfFinished(QueueEntry entry)
    {
        if (entry.IsFinished) _entries.Remove(entry.Message.QueueId);
    }

    /// <summary>
    /// A copy of the state: the snapshot store serializes it on its own thread while the actor goes
    /// on applying events, and must not see those (a recovery would apply them a second time).
    /// </summary>
    public DomainQueueSnapshot ToSnapshot() => new(_entries.Values.Select(e => e.Copy()).ToArray());

    public static DomainQueue FromSnapshot(DomainQueueSnapshot snapshot)
    {
        var queue = new DomainQueue();
        foreach (var entry in snapshot.Entries) queue._entries[entry.Message.QueueId] = entry.Copy();
        return queue;
    }
}

/// <summary>A snapshot of a domain's queue (Akka.Persistence snapshot store).</summary>
public sealed record DomainQueueSnapshot(QueueEntry[] Entries);

/// <summary>One queued message and what is known of each of its recipients.</summary>
public sealed class QueueEntry
{
    public required QueuedMessage Message { get; init; }

    /// <summary>Latest result per recipient; null = not tried yet.</summary>
    public required RecipientResult?[] States { get; init; }

    /// <summary>Per recipient: a bounce was sent for it, or none is owed.</summary>
    public required bool[] BounceDone { get; init; }

    /// <summary>
    /// Per recipient: a "relayed" notice was handed over for it. Empty in snapshots written before
    /// it was kept (the JSON reader then passes null; <see cref="Copy"/> makes it full size, and
    /// nothing was owed then).
    /// </summary>
    public bool[] SuccessNoticeDone
    {
        get => _successNoticeDone;
        init => _successNoticeDone = value ?? [];
    }

    private readonly bool[] _successNoticeDone = [];

    public int Attempts { get; set; }

    public DateTimeOffset NextAttempt { get; set; }

    public bool DelayNotified { get; set; }

    /// <summary>
    /// When the last delivery attempt ended (RFC 3464 Last-Attempt-Date). Null before the first,
    /// and for state written by a version that did not keep it (its DSNs then leave the field out).
    /// </summary>
    public DateTimeOffset? LastAttemptAt { get; set; }

    public bool IsPending(int i) => States[i] is null || States[i]!.Outcome == RecipientOutcome.Deferred;

    public IEnumerable<int> PendingRecipients => Enumerable.Range(0, States.Length).Where(IsPending);

    /// <summary>Failed recipients whose sender still has to be told (RFC 3461 NOTIFY, never for a null sender).</summary>
    public int[] OwedBounces() => Indices(static (e, i) => e.OwesBounce(i));

    /// <summary>
    /// Delivered recipients whose sender asked NOTIFY=SUCCESS and still has to be told that the
    /// message was relayed to a server that does not offer DSN (RFC 3461 s5.2.2; a server that
    /// offers it got NOTIFY and is responsible now). Never for a null sender.
    /// </summary>
    public int[] OwedSuccessNotices() => Indices(static (e, i) => e.OwesSuccessNotice(i));

    public static bool WantsNotice(QueuedMessage message, int i, DsnNotify kind) =>
        message.Sender is not null && message.Recipients[i].Notify.Asks(kind);

    /// <summary>Nothing left to try and no bounce or "relayed" notice owed (asked for every event applied: no allocation).</summary>
    public bool IsFinished
    {
        get
        {
            for (var i = 0; i < States.Length; i++)
            {
                if (IsPending(i) || OwesBounce(i) || OwesSuccessNotice(i)) return false;
            }
            return true;
        }
    }

    private bool OwesBounce(int i) => States[i] is { Outcome: RecipientOutcome.Failed } && !BounceDone[i];

    private bool OwesSuccessNotice(int i) =>
        States[i] is { Outcome: RecipientOutcome.Delivered, PeerOfferedDsn: false } && !SuccessNoticeDone[i] && WantsNotice(Message, i, DsnNotify.Success);

    private int[] Indices(Func<QueueEntry, int, bool> owed)
    {
        List<int>? found = null;
        for (var i = 0; i < States.Length; i++)
        {
            if (owed(this, i)) (found ??= []).Add(i);
        }
        return found is null ? [] : [.. found];
    }

    /// <summary>A copy that later changes to this entry do not reach (the message and the results are immutable records).</summary>
    public QueueEntry Copy() => new()
    {
        Message = Message,
        States = (RecipientResult?[])States.Clone(),
        BounceDone = (bool[])BounceDone.Clone(),
        SuccessNoticeDone = SuccessNoticeDone.Length == States.Length ? (bool[])SuccessNoticeDone.Clone() : new bool[States.Length],
        Attempts = Attempts,
        NextAttempt = NextAttempt,
        DelayNotified = DelayNotified,
        LastAttemptAt = LastAttemptAt,
    };
}
