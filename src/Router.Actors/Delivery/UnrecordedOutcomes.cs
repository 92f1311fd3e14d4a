using Router.Protocol.Dsn;

namespace Router.Actors.Delivery;

/// <summary>
/// The node's record of what its domain queues did that their journals have not confirmed yet:
/// recipients a next hop answered for good (accepted or refused), notices handed over. An outcome
/// enters it before its journal write (an attempt's when the attempt ends, whether or not its queue
/// is still there to hear of it) and leaves it once the write is confirmed. A queue whose write
/// failed stops (Akka.Persistence); the next incarnation on this node writes what it finds here
/// before it starts any attempt, so a journal that cannot be written (a full disk) costs no second
/// copy at the next hop and no second notice, however often the queue restarts (Postfix marks a
/// delivered recipient in its queue file in place and never resends either).
/// <para>
/// In memory, per node: a crash between the next hop's 250 and the write, or a shard that moves to
/// another node, still means one more copy (at-least-once). Bounded: a queue starts no attempt
/// before the journal took what it found here, so a domain holds at most the outcomes of one
/// round of attempts; past <see cref="Capacity"/> (outcomes no queue came back for) the oldest go.
/// Thread-safe: attempts end on pool threads.
/// </para>
/// </summary>
public sealed class UnrecordedOutcomes(int capacity = UnrecordedOutcomes.DefaultCapacity)
{
    public const int DefaultCapacity = 100_000;

    private readonly object _gate = new();
    private readonly LinkedList<Outcome> _order = new();
    private readonly Dictionary<Outcome, LinkedListNode<Outcome>> _nodes = new(ReferenceEqualityComparer.Instance);

    public int Capacity => capacity;

    /// <summary>Outcomes held, all domains together.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _order.Count;
        }
    }

    /// <summary>Holds <paramref name="outcome"/> until <see cref="Confirmed"/>; the oldest goes when the record is full.</summary>
    public void Add(Outcome outcome)
    {
        lock (_gate)
        {
            if (_nodes.ContainsKey(outcome)) return;
            if (_order.Count >= capacity && _order.First is { } oldest)
            {
                _nodes.Remove(oldest.Value);
                _order.RemoveFirst();
            }
            _nodes.Add(outcome, _order.AddLast(outcome));
        }
    }

    /// <summary>The journal has <paramref name="outcome"/> (or no longer needs it).</summary>
    public void Confirmed(Outcome outcome)
    {
        lock (_gate)
        {
            if (_nodes.Remove(outcome, out var node)) _order.Remove(node);
        }
    }

    /// <summary>The outcomes of <paramref name="domain"/> not confirmed yet, oldest first.</summary>
    public Outcome[] For(string domain)
    {
        lock (_gate) return _order.Where(o => string.Equals(o.Domain, domain, StringComparison.Ordinal)).ToArray();
    }

    /// <summary>Drops what <paramref name="domain"/> holds: its queue moved to another node, which knows nothing of it.</summary>
    public void Forget(string domain)
    {
        foreach (var outcome in For(domain)) Confirmed(outcome);
    }

    /// <summary>Something a queue did for one message that its journal must record. Compared by reference: each is one fact.</summary>
    public abstract class Outcome(string domain, string queueId)
    {
        public string Domain { get; } = domain;

        public string QueueId { get; } = queueId;
    }

    /// <summary>An attempt that ended at <see cref="At"/> with at least one recipient settled (delivered or refused for good).</summary>
    public sealed class Attempt(string domain, string queueId, RecipientResult[] results, DateTimeOffset at) : Outcome(domain, queueId)
    {
        public RecipientResult[] Results { get; } = results;

        public DateTimeOffset At { get; } = at;

        /// <summary>Whether it is worth holding: a recipient the next hop settled must not be sent again; a deferral may be.</summary>
        public static bool Settles(RecipientResult[] results) => results.Any(r => r.Outcome != RecipientOutcome.Deferred);
    }

    /// <summary>A notice of <see cref="Kind"/> for these recipients was handed to its owner.</summary>
    public sealed class Notice(string domain, string queueId, DsnKind kind, int[] recipients) : Outcome(domain, queueId)
    {
        public DsnKind Kind { get; } = kind;

        public int[] Recipients { get; } = recipients;
    }
}
