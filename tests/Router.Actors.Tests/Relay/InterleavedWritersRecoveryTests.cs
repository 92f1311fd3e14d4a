using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit.Xunit2;
using Router.Actors.Delivery;
using Router.Protocol;
using Xunit.Abstractions;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// A queue's journal written by two live writers in turn (a paused node that resumed and wrote
/// before its shard was stopped, while another node ran the queue): the recovery must keep every
/// envelope, with the replay filter the router configures for its journal
/// (<see cref="RouterNode.ReplayKeepsEveryEvent"/>). Akka's default filter dropped the events of
/// the writer that came back, and with them messages that had got 250.
/// </summary>
public sealed class InterleavedWritersRecoveryTests(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString(RouterNode.ReplayKeepsEveryEvent("akka.persistence.journal.test")).WithFallback(TestSettings.InMemoryPersistence), "interleaved-writers", output)
{
    private const string Domain = "remote.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static QueueEvent.Enqueued Envelope(string id) => new(new QueuedMessage(
        id, Domain, "alice@example.test", null, false, false, false, DateTimeOffset.UtcNow, 100,
        [new QueuedRecipient("bob@remote.test", DsnNotify.None, null)]));

    [Fact]
    public void Every_envelope_of_two_interleaved_writers_is_recovered()
    {
        var journal = Persistence.Instance.Apply(Sys).JournalFor(null);
        var persistenceId = "domain-" + Domain;
        var first = Guid.NewGuid().ToString();
        var second = Guid.NewGuid().ToString();
        // The first writer, then the one that took over, then the first again (it resumed).
        (string Writer, string Id)[] writes = [(first, "Q1"), (second, "Q2"), (first, "Q3"), (second, "Q4")];
        for (var i = 0; i < writes.Length; i++)
        {
            var persistent = new Persistent(Envelope(writes[i].Id), i + 1, persistenceId, string.Empty, false, ActorRefs.NoSender, writes[i].Writer);
            journal.Tell(new WriteMessages([new AtomicWrite(persistent)], TestActor, 1));
            ExpectMsg<WriteMessagesSuccessful>(Deadline);
            ExpectMsg<WriteMessageSuccess>(Deadline);
        }

        var services = new TestDomainServices(CreateTestProbe(), CreateTestProbe());
        services.Resolver.Resolution = new MxResolution.TemporaryFailure("no delivery in this test");
        var queue = Sys.ActorOf(DomainDeliveryActor.Props(Domain, services.Services));
        queue.Tell(new DomainDeliveryActor.GetQueue(Domain));
        var listing = ExpectMsg<DomainDeliveryActor.QueueListing>(Deadline);
        Assert.Equal(["Q1", "Q2", "Q3", "Q4"], listing.Messages.Select(m => m.QueueId).Order());
    }
}
