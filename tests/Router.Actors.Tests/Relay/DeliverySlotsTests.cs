using Akka.Actor;
using Akka.TestKit.Xunit2;
using Router.Actors.Delivery;
using Xunit.Abstractions;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// The node-wide limit on delivery attempts (router.delivery.max-connections): the slots alone
/// (a queue in line once, freed slots granted in turn, grants given back or passed on when a
/// queue stops), and destination queues sharing them against a loopback server that holds its
/// transactions open: never more attempts at once than slots, and a destination that waits gets
/// the next free slot before a busier one's next message.
/// </summary>
public sealed class DeliverySlotsTests : TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly RecordingSmtpServer _server = new();
    private readonly TestDomainServices _services;

    public DeliverySlotsTests(ITestOutputHelper output)
        : base(TestSettings.InMemoryPersistence, "delivery-slots", output)
    {
        _services = new TestDomainServices(CreateTestProbe(), CreateTestProbe());
        _services.Resolver.Resolution = TestDomainServices.Loopback(_server.Port);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void Freed_slots_are_granted_to_the_queues_in_line_in_turn()
    {
        var slots = new DeliverySlots(2);
        var (a, b, c) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());

        Assert.True(slots.TryTake(a));
        Assert.True(slots.TryTake(a));
        Assert.False(slots.TryTake(b));
        Assert.False(slots.TryTake(c));
        Assert.False(slots.TryTake(b)); // in line once
        Assert.Equal((2, 2), (slots.InUse, slots.Waiting));

        slots.Release();
        b.ExpectMsg<DeliverySlots.Granted>();
        c.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal((2, 1), (slots.InUse, slots.Waiting)); // the grant counts as in use
        Assert.False(slots.TryTake(a)); // a is behind c now
        Assert.True(slots.TryTake(b));

        slots.Release();
        c.ExpectMsg<DeliverySlots.Granted>();
        slots.Release();
        a.ExpectMsg<DeliverySlots.Granted>();
        slots.Release();
        Assert.Equal((1, 0), (slots.InUse, slots.Waiting)); // c's and a's grants
    }

    [Fact]
    public void Grants_not_used_go_to_the_next_in_line_and_a_queue_that_stops_takes_none_with_it()
    {
        var slots = new DeliverySlots(1);
        var (a, b, c) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Assert.True(slots.TryTake(a));
        Assert.False(slots.TryTake(b));
        Assert.False(slots.TryTake(c));
        Assert.False(slots.TryTake(a));

        // b is granted the slot but stops before it hears of it: the grant goes on to c.
        slots.Release();
        b.ExpectMsg<DeliverySlots.Granted>();
        slots.Leave(b);
        c.ExpectMsg<DeliverySlots.Granted>();

        // c has nothing to start: it gives the grant back, and a (next in line) gets it.
        slots.GiveBack(c);
        a.ExpectMsg<DeliverySlots.Granted>();
        Assert.True(slots.TryTake(a));
        slots.GiveBack(a); // nothing granted any more: no effect
        Assert.Equal((1, 0), (slots.InUse, slots.Waiting));

        // A queue that stops while in line leaves it.
        Assert.False(slots.TryTake(b));
        slots.Leave(b);
        slots.Release();
        Assert.Equal((0, 0), (slots.InUse, slots.Waiting));
        b.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Destination_queues_together_never_run_more_attempts_than_the_node_has_slots()
    {
        var slots = new DeliverySlots(2);
        var open = 0;
        var most = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _server.BeforeDataReply = async () =>
        {
            var now = Interlocked.Increment(ref open);
            InterlockedMax(ref most, now);
            await gate.Task;
            Interlocked.Decrement(ref open);
        };
        // Three destinations, two messages each, up to 20 attempts per destination: six at once without the node's limit.
        string[] domains = ["one.test", "two.test", "three.test"];
        var queues = domains.Select(d => Sys.ActorOf(DomainDeliveryActor.Props(d, Services(slots)))).ToArray();
        for (var i = 0; i < 6; i++)
        {
            queues[i % 3].Tell(await MessageAsync($"M{i}", domains[i % 3]));
            ExpectMsg<DomainDeliveryActor.Accepted>(Deadline);
        }

        await AwaitConditionAsync(() => Task.FromResult(Volatile.Read(ref open) == 2), Deadline);
        await AwaitConditionAsync(() => Task.FromResult(slots.Waiting >= 1), Deadline);
        // An absence: no third transaction starts while the two hold their slots.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.Equal(2, Volatile.Read(ref open));

        gate.SetResult();
        await _server.Received(6).WaitAsync(Deadline);
        Assert.Equal(2, Volatile.Read(ref most));
        await AwaitConditionAsync(() => Task.FromResult(slots.InUse == 0 && slots.Waiting == 0), Deadline);
    }

    [Fact]
    public async Task A_destination_waiting_for_a_slot_goes_before_a_busier_ones_next_message()
    {
        var slots = new DeliverySlots(1);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _server.BeforeDataReply = () => gate.Task;
        var busy = Sys.ActorOf(DomainDeliveryActor.Props("busy.test", Services(slots)));
        var quiet = Sys.ActorOf(DomainDeliveryActor.Props("quiet.test", Services(slots)));
        for (var i = 1; i <= 4; i++)
        {
            busy.Tell(await MessageAsync($"B{i}", "busy.test"));
            ExpectMsg<DomainDeliveryActor.Accepted>(Deadline);
        }
        // B1 holds the one slot and busy.test is in line for its next; quiet.test gets in line behind it.
        await AwaitConditionAsync(() => Task.FromResult(slots.Waiting == 1), Deadline);
        quiet.Tell(await MessageAsync("Q1", "quiet.test"));
        ExpectMsg<DomainDeliveryActor.Accepted>(Deadline);
        await AwaitConditionAsync(() => Task.FromResult(slots.Waiting == 2), Deadline);

        gate.SetResult();
        await _server.Received(5).WaitAsync(Deadline);
        var order = _server.Messages.Select(m => Subject(m.Data)).ToArray();
        // busy.test was in line first (B2), then quiet.test (Q1), then busy.test again.
        Assert.Equal(["B1", "B2", "Q1", "B3", "B4"], order);
    }

    [Fact]
    public async Task A_suspended_destination_does_not_wait_for_a_slot_for_messages_it_holds_back()
    {
        var slots = new DeliverySlots(1);
        _server.Greeting = "421 4.3.2 not now";
        _services.Delivery = TestDomainServices.DefaultDelivery with { MaxConnectionsPerDestination = 1, RetrySchedule = [TimeSpan.FromMinutes(10)] };
        var queue = Sys.ActorOf(DomainDeliveryActor.Props("down.test", Services(slots)));
        queue.Tell(await MessageAsync("D1", "down.test"));
        ExpectMsg<DomainDeliveryActor.Accepted>(Deadline);
        await AwaitConditionAsync(() => Task.FromResult(ListingOf(queue).SuspendedUntil is not null), Deadline);
        // Another destination's attempt holds the node's one slot.
        var other = CreateTestProbe();
        await AwaitConditionAsync(() => Task.FromResult(slots.TryTake(other)), Deadline);

        queue.Tell(await MessageAsync("D2", "down.test"));
        ExpectMsg<DomainDeliveryActor.Accepted>(Deadline);

        // D2 is held back by the suspension at once: the queue is not in line for a slot it cannot use.
        var d2 = ListingOf(queue).Messages.Single(m => m.QueueId == "D2");
        Assert.Equal(0, d2.Attempts);
        Assert.Equal(0, slots.Waiting);
    }

    private DomainDeliveryActor.QueueListing ListingOf(IActorRef queue)
    {
        queue.Tell(new DomainDeliveryActor.GetQueue("down.test"));
        return ExpectMsg<DomainDeliveryActor.QueueListing>(Deadline);
    }

    /// <summary>The test's services with <paramref name="slots"/>: every queue of a test shares them, as the queues of a node do.</summary>
    private DomainServices Services(DeliverySlots slots) => _services.Services with { Slots = slots };

    private async Task<DomainDeliveryActor.Enqueue> MessageAsync(string id, string domain)
    {
        await _services.StoreBodyAsync(id, domain);
        return TestDomainServices.Envelope(id, domain);
    }

    private static string Subject(string data) =>
        data.Split("\r\n").First(l => l.StartsWith("Subject: ", StringComparison.Ordinal))["Subject: ".Length..];

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
