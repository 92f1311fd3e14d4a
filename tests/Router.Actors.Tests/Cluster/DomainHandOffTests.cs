using System.Text;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using Akka.TestKit.Xunit2;
using Router.Actors.Delivery;
using Router.Actors.Sharding;
using Router.Actors.Tests.Relay;
using Router.Protocol;
using Xunit.Abstractions;

namespace Router.Actors.Tests.Cluster;

/// <summary>
/// A domain entity gets an Enqueue again when the first request or its answer was lost
/// (<see cref="ShardedAsk"/>): it answers, and queues the message once. When its shard moves
/// (<see cref="HandOffStop"/>) it stops only after its journal writes in flight are done and
/// answered and its delivery attempts in flight are recorded, so the next owner neither misses an
/// acknowledged message nor delivers one twice.
/// </summary>
public sealed class DomainHandOffTests : TestKit, IAsyncLifetime
{
    private const string Domain = "remote.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly RecordingSmtpServer _server = new();
    private readonly GatedMessageStore _store = new();
    private readonly ITestJournal _journal;
    private readonly DomainServices _services;

    public DomainHandOffTests(ITestOutputHelper output)
        : base(TestSettings.InMemoryPersistence, "domain-hand-off", output)
    {
        _journal = TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));
        var services = new TestDomainServices(CreateTestProbe(), CreateTestProbe());
        services.Resolver.Resolution = TestDomainServices.Loopback(_server.Port);
        _services = services.ServicesWith(_store);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _server.DisposeAsync();

    private IActorRef StartQueue() => Sys.ActorOf(DomainDeliveryActor.Props(Domain, _services));

    private async Task<DomainDeliveryActor.Enqueue> MessageAsync(string id)
    {
        await _store.StoreAsync(id, [Domain], "Received: by test\r\n"u8.ToArray(), Encoding.ASCII.GetBytes($"Subject: {id}\r\n\r\nhello\r\n"), TimeSpan.FromSeconds(30));
        return new DomainDeliveryActor.Enqueue(Domain, new QueuedMessage(
            id, Domain, "alice@example.test", null, false, false, false, DateTimeOffset.UtcNow, 64, [new QueuedRecipient("bob@remote.test", DsnNotify.None, null)]));
    }

    private DomainDeliveryActor.QueueListing Queue(IActorRef queue)
    {
        queue.Tell(new DomainDeliveryActor.GetQueue(Domain));
        return ExpectMsg<DomainDeliveryActor.QueueListing>(Deadline);
    }

    [Fact]
    public async Task A_repeated_enqueue_is_answered_and_queued_once()
    {
        var writes = new GatedJournalWrites();
        await _journal.OnWrite.SetInterceptorAsync(writes);
        var queue = StartQueue();
        var enqueue = await MessageAsync("Q1");

        queue.Tell(enqueue);
        await writes.Reached.WaitAsync(Deadline);
        queue.Tell(enqueue); // while the first is being written: its answer covers both
        writes.Open();
        Assert.Equal("Q1", ExpectMsg<DomainDeliveryActor.Accepted>(Deadline).QueueId);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        queue.Tell(enqueue); // once written
        Assert.Equal("Q1", ExpectMsg<DomainDeliveryActor.Accepted>(Deadline).QueueId);

        Assert.Equal("Q1", Assert.Single(Queue(queue).Messages).QueueId);
        _store.Open();
        await _server.Received(1).WaitAsync(Deadline);
        await AwaitAssertAsync(() => Assert.Empty(Queue(queue).Messages), Deadline, TimeSpan.FromMilliseconds(100));

        queue.Tell(enqueue); // late, after it was delivered: not again
        Assert.Equal("Q1", ExpectMsg<DomainDeliveryActor.Accepted>(Deadline).QueueId);
        Assert.Empty(Queue(queue).Messages);
        Assert.Single(_server.Messages);
    }

    [Fact]
    public async Task Hand_off_stop_answers_the_enqueue_being_written_before_stopping()
    {
        var writes = new GatedJournalWrites();
        await _journal.OnWrite.SetInterceptorAsync(writes);
        var queue = StartQueue();
        Watch(queue);

        queue.Tell(await MessageAsync("Q1"));
        await writes.Reached.WaitAsync(Deadline);
        queue.Tell(HandOffStop.Instance);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // neither the answer nor the stop before the write
        writes.Open();

        Assert.Equal("Q1", ExpectMsg<DomainDeliveryActor.Accepted>(Deadline).QueueId);
        ExpectTerminated(queue, Deadline);

        // The next owner has it, and delivers it.
        await _journal.OnWrite.Pass();
        _store.Open();
        var next = StartQueue();
        await _server.Received(1).WaitAsync(Deadline);
        await AwaitAssertAsync(() => Assert.Empty(Queue(next).Messages), Deadline, TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Hand_off_stop_waits_for_the_attempt_in_flight_so_the_next_owner_does_not_send_it_again()
    {
        var queue = StartQueue();
        Watch(queue);
        queue.Tell(await MessageAsync("Q1"));
        ExpectMsg<DomainDeliveryActor.Accepted>(Deadline);
        AwaitCondition(() => _store.Reads >= 1, Deadline); // the attempt has started

        queue.Tell(HandOffStop.Instance);
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        _store.Open();
        ExpectTerminated(queue, Deadline);

        var next = StartQueue();
        Assert.Empty(Queue(next).Messages);
        Assert.Single(_server.Messages);
    }
}
