using Akka.Persistence;
using Akka.Persistence.TestKit;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// A TestKit journal interceptor that holds every write until the test opens the gate, and tells
/// the test when a write has reached it: a write stays "in flight" for exactly as long as the test
/// wants, however slow the machine (a fixed delay races the test's own timing on a loaded CI host).
/// </summary>
internal sealed class GatedJournalWrites : IJournalInterceptor
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the first write has reached the gate.</summary>
    public Task Reached => _reached.Task;

    public void Open() => _open.TrySetResult();

    public async Task InterceptAsync(IPersistentRepresentation message)
    {
        _reached.TrySetResult();
        await _open.Task;
    }
}
