namespace Router.Actors.Storage;

/// <summary>
/// The durable store of message bodies, written once when a message is accepted and read by its
/// owners: each destination domain's queue at each delivery attempt, and in cluster mode each
/// mailbox on whatever node it lives. Every owner holds its own reference and drops it when done;
/// the bytes go with the last reference.
/// </summary>
public interface IMessageStore
{
    /// <summary>Completes once the message is durable for every one of <paramref name="owners"/>.</summary>
    Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body);

    /// <summary>The message (trace header and body), or null when the owner holds no reference.</summary>
    Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct);

    /// <summary>Drops the owner's reference.</summary>
    Task ReleaseAsync(string queueId, string owner);

    /// <summary>
    /// The queue ids the owner holds a reference to that were stored before <paramref name="storedBefore"/>
    /// (used to find references a crash left behind). A store that cannot list returns none.
    /// </summary>
    Task<IReadOnlyList<string>> ListAsync(string owner, DateTimeOffset storedBefore) => Task.FromResult<IReadOnlyList<string>>([]);
}
