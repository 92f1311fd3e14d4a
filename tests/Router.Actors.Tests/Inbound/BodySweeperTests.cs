using System.Collections.Concurrent;
using Akka.TestKit.Xunit2;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// The body sweep runs only when the store gives this node the turn: in a cluster one node sweeps
/// per interval, the others' ticks find the turn taken and leave the store alone.
/// </summary>
public sealed class BodySweeperTests : TestKit
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private const string Owner = "mailbox:alice@example.test";

    [Fact]
    public async Task A_node_given_the_turn_sweeps_and_claims_with_a_tenth_of_slack()
    {
        var store = new TurnStore(granted: true);
        Sys.ActorOf(BodySweeper.Props(store, TestActor, Interval, TimeSpan.FromHours(1)));

        await AwaitConditionAsync(() => Task.FromResult(store.Released.Contains(("Q1", Owner))), Deadline);
        Assert.Equal(Interval * 0.9, store.ClaimedWith.First());
    }

    [Fact]
    public async Task A_node_refused_the_turn_neither_lists_nor_releases()
    {
        var store = new TurnStore(granted: false);
        Sys.ActorOf(BodySweeper.Props(store, TestActor, Interval, TimeSpan.FromHours(1)));

        await AwaitConditionAsync(() => Task.FromResult(store.ClaimedWith.Count >= 3), Deadline);
        Assert.Equal(0, store.Listings);
        Assert.Empty(store.Released);
    }

    /// <summary>A store holding one stale mailbox reference, which grants or refuses every claim.</summary>
    private sealed class TurnStore(bool granted) : IMessageStore
    {
        private int _listings;

        public ConcurrentQueue<TimeSpan> ClaimedWith { get; } = new();

        public ConcurrentQueue<(string, string)> Released { get; } = new();

        public int Listings => Volatile.Read(ref _listings);

        public Task<bool> ClaimSweepAsync(TimeSpan interval)
        {
            ClaimedWith.Enqueue(interval);
            return Task.FromResult(granted);
        }

        public Task<IReadOnlyList<StoredReference>> StaleReferencesAsync(TimeSpan grace)
        {
            Interlocked.Increment(ref _listings);
            return Task.FromResult<IReadOnlyList<StoredReference>>([new StoredReference("Q1", Owner)]);
        }

        public Task ReleaseAsync(string queueId, string owner)
        {
            Released.Enqueue((queueId, owner));
            return Task.CompletedTask;
        }

        public Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body, TimeSpan acceptWithin) =>
            throw new NotSupportedException();

        public Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct) => throw new NotSupportedException();
    }
}
