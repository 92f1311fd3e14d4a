namespace Router.Actors.Storage;

/// <summary>
/// The durable store of message bodies, written once when a message is accepted and read by its
/// owners: each destination domain's queue at each delivery attempt, and in cluster mode each
/// mailbox on whatever node it lives. Every owner holds its own reference and drops it when done;
/// the bytes go with the last reference.
/// <para>
/// Each message is stored with its acceptance deadline: its session waits <c>acceptWithin</c> for
/// the owners, and a domain queue refuses an envelope that comes later than that. A reference that
/// outlives that deadline by a margin (the body sweep's grace) belongs to a message that was
/// either queued long ago (then only a queue entry can still need it) or never acknowledged;
/// <see cref="BodySweeper"/> finds such references with <see cref="StaleReferencesAsync"/>.
/// </para>
/// </summary>
public interface IMessageStore
{
    /// <summary>
    /// Completes once the message is durable for every one of <paramref name="owners"/>.
    /// <paramref name="acceptWithin"/>: how long, from now, the message can still be acknowledged.
    /// </summary>
    Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body, TimeSpan acceptWithin);

    /// <summary>The message (trace header and body), or null when the owner holds no reference.</summary>
    Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct);

    /// <summary>Drops the owner's reference.</summary>
    Task ReleaseAsync(string queueId, string owner);

    /// <summary>
    /// The queue ids the owner holds a reference to whose acceptance deadline passed more than
    /// <paramref name="grace"/> ago, by the store's clock (references a crash or a refused message
    /// may have left behind). A store that cannot list returns none.
    /// </summary>
    Task<IReadOnlyList<string>> ListAsync(string owner, TimeSpan grace) => Task.FromResult<IReadOnlyList<string>>([]);

    /// <summary>Every reference <see cref="ListAsync"/> would list with this <paramref name="grace"/>, whatever its owner.</summary>
    Task<IReadOnlyList<StoredReference>> StaleReferencesAsync(TimeSpan grace) => Task.FromResult<IReadOnlyList<StoredReference>>([]);

    /// <summary>
    /// Deletes bodies that no reference holds any more and whose acceptance deadline passed more
    /// than <paramref name="grace"/> ago (a release cut short between its two steps); returns how many.
    /// </summary>
    Task<int> DropUnreferencedAsync(TimeSpan grace) => Task.FromResult(0);

    /// <summary>
    /// Whether this node is to run the body sweep now: false when a node sharing the store claimed
    /// a sweep less than <paramref name="interval"/> ago, so that a cluster sweeps once per
    /// interval, not once per node. A store of one node is always its own.
    /// </summary>
    Task<bool> ClaimSweepAsync(TimeSpan interval) => Task.FromResult(true);
}

/// <summary>One owner's reference to a stored message.</summary>
public readonly record struct StoredReference(string QueueId, string Owner);
