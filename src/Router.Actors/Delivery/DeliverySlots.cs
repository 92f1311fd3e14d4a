using Akka.Actor;

namespace Router.Actors.Delivery;

/// <summary>
/// The node's delivery attempts at once, over all destinations (router.delivery.max-connections;
/// Postfix's process limit on its smtp clients): an attempt holds a slot from its start until it
/// ends, for its DNS lookups and connections. A destination's queue that finds no slot free gets
/// in line, and slots freed later go to the queues in line in turn, one slot per turn: a
/// destination with a large backlog cannot keep the others from theirs. Thread-safe: attempts end
/// on pool threads.
/// <para>
/// A freed slot is granted to the queue at the head of the line (it stays counted as in use) and
/// the queue is told <see cref="Granted"/>; its next <see cref="TryTake"/> uses the grant. A queue
/// that has nothing to start gives its grants back (<see cref="GiveBack"/>), and one that stops
/// leaves the line with its grants (<see cref="Leave"/>): no slot is lost to a queue that stopped
/// before the message reached it.
/// </para>
/// </summary>
public sealed class DeliverySlots(int capacity)
{
    private readonly object _gate = new();
    private readonly Queue<IActorRef> _line = new();
    private readonly HashSet<IActorRef> _inLine = [];
    private readonly Dictionary<IActorRef, int> _grants = [];
    private int _inUse;

    public int Capacity => capacity;

    /// <summary>Slots held by attempts or granted to a queue and not used yet.</summary>
    public int InUse
    {
        get
        {
            lock (_gate) return _inUse;
        }
    }

    /// <summary>Destination queues waiting for a slot.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate) return _line.Count;
        }
    }

    /// <summary>
    /// A slot for an attempt of <paramref name="queue"/>: one granted to it, or a free one when
    /// nobody is in line. Otherwise false, and <paramref name="queue"/> is in line (once).
    /// </summary>
    public bool TryTake(IActorRef queue)
    {
        lock (_gate)
        {
            if (_grants.Remove(queue, out var granted))
            {
                if (granted > 1) _grants[queue] = granted - 1;
                return true;
            }
            if (_inUse < capacity && _line.Count == 0)
            {
                _inUse++;
                return true;
            }
            if (_inLine.Add(queue)) _line.Enqueue(queue);
            return false;
        }
    }

    /// <summary>An attempt's slot is free again: it goes to the next queue in line, if any.</summary>
    public void Release()
    {
        List<IActorRef> told;
        lock (_gate) told = Free(1);
        Tell(told);
    }

    /// <summary>Gives back what was granted to <paramref name="queue"/> and not used.</summary>
    public void GiveBack(IActorRef queue)
    {
        List<IActorRef> told;
        lock (_gate)
        {
            if (!_grants.Remove(queue, out var unused)) return;
            told = Free(unused);
        }
        Tell(told);
    }

    /// <summary><paramref name="queue"/> stopped: out of the line, its grants to the next ones.</summary>
    public void Leave(IActorRef queue)
    {
        List<IActorRef> told;
        lock (_gate)
        {
            if (_inLine.Remove(queue))
            {
                var rest = _line.Where(q => !q.Equals(queue)).ToArray();
                _line.Clear();
                foreach (var q in rest) _line.Enqueue(q);
            }
            told = _grants.Remove(queue, out var unused) ? Free(unused) : [];
        }
        Tell(told);
    }

    /// <summary>Frees <paramref name="slots"/>, each granted to the next queue in line or back to the free ones; returns whom to tell.</summary>
    private List<IActorRef> Free(int slots)
    {
        List<IActorRef> told = [];
        for (; slots > 0; slots--)
        {
            if (_line.TryDequeue(out var next))
            {
                _inLine.Remove(next);
                _grants[next] = _grants.GetValueOrDefault(next) + 1;
                told.Add(next);
            }
            else
            {
                _inUse--;
            }
        }
        return told;
    }

    private static void Tell(List<IActorRef> told)
    {
        foreach (var queue in told) queue.Tell(Granted.Instance);
    }

    /// <summary>Tells a queue in line that a slot was granted to it.</summary>
    public sealed record Granted
    {
        public static readonly Granted Instance = new();
    }
}
