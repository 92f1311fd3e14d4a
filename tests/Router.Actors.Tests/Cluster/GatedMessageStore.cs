using Router.Actors.Storage;
using Router.Actors.Tests.Relay;

namespace Router.Actors.Tests.Cluster;

/// <summary>
/// An in-memory message store whose reads wait while the test holds the gate: an owner reading a
/// body stays "in flight" (a Maildir write, a delivery attempt) for as long as the test wants.
/// </summary>
internal sealed class GatedMessageStore : IMessageStore
{
    private readonly InMemoryMessageStore _inner = new();
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    /// <summary>Reads that reached the gate (whether it was open or not).</summary>
    public int Reads => Volatile.Read(ref _waiting);

    public int Count => _inner.Count;

    public void Open() => _open.TrySetResult();

    public Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body, TimeSpan acceptWithin) =>
        _inner.StoreAsync(queueId, owners, trace, body, acceptWithin);

    public async Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct)
    {
        Interlocked.Increment(ref _waiting);
        await _open.Task.WaitAsync(ct);
        return await _inner.LoadAsync(queueId, owner, ct);
    }

    public Task ReleaseAsync(string queueId, string owner) => _inner.ReleaseAsync(queueId, owner);
}
