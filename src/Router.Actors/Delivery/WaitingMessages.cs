namespace Router.Actors.Delivery;

/// <summary>
/// A domain queue's messages that wait for a time (their next attempt, a body still being
/// written, a notice to try again), in due order, each at most once: a second wait for a message
/// keeps the earlier time. Every operation is logarithmic in the number waiting or better, so a
/// backlog of tens of thousands costs no more per message than a short queue.
/// </summary>
internal sealed class WaitingMessages
{
    private readonly SortedSet<(DateTimeOffset Due, string Id)> _byDue = [];
    private readonly Dictionary<string, DateTimeOffset> _dueOf = new(StringComparer.Ordinal);

    /// <summary>The earliest due time, or <see cref="DateTimeOffset.MaxValue"/> when none waits.</summary>
    public DateTimeOffset NextDue => _byDue.Count > 0 ? _byDue.Min.Due : DateTimeOffset.MaxValue;

    public void Add(string id, DateTimeOffset due)
    {
        if (_dueOf.TryGetValue(id, out var current))
        {
            if (current <= due) return;
            _byDue.Remove((current, id));
        }
        _byDue.Add((due, id));
        _dueOf[id] = due;
    }

    /// <summary>Removes and returns, earliest first, the messages due at <paramref name="now"/> (usually none: no allocation then).</summary>
    public IReadOnlyList<string> TakeDue(DateTimeOffset now)
    {
        if (NextDue > now) return [];
        var due = new List<string>();
        while (_byDue.Count > 0 && _byDue.Min.Due <= now) due.Add(Remove(_byDue.Min));
        return due;
    }

    /// <summary>Removes and returns one message (if it waits) or, for null, every message.</summary>
    public List<string> Take(string? id)
    {
        if (id is null) return _byDue.ToArray().Select(Remove).ToList();
        return _dueOf.TryGetValue(id, out var due) ? [Remove((due, id))] : [];
    }

    private string Remove((DateTimeOffset Due, string Id) wait)
    {
        _byDue.Remove(wait);
        _dueOf.Remove(wait.Id);
        return wait.Id;
    }
}
