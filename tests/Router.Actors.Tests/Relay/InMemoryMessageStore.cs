using System.Collections.Concurrent;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Relay;

/// <summary>An <see cref="IMessageStore"/> in memory, with the same per-owner references as the file spool.</summary>
internal sealed class InMemoryMessageStore : IMessageStore
{
    private readonly ConcurrentDictionary<(string Id, string Owner), byte[]> _bodies = new();

    private int _loads;

    public int Count => _bodies.Count;

    /// <summary>How many times an owner asked for a body (found or not).</summary>
    public int Loads => Volatile.Read(ref _loads);

    public Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body, TimeSpan acceptWithin)
    {
        foreach (var owner in owners) _bodies[(queueId, owner)] = [.. trace.Span, .. body.Span];
        return Task.CompletedTask;
    }

    public Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct)
    {
        Interlocked.Increment(ref _loads);
        return Task.FromResult(_bodies.TryGetValue((queueId, owner), out var bytes) ? bytes : null);
    }

    public Task ReleaseAsync(string queueId, string owner)
    {
        _bodies.TryRemove((queueId, owner), out _);
        return Task.CompletedTask;
    }
}
