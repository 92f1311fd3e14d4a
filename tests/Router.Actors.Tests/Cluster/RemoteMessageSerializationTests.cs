using Akka.TestKit.Xunit2;
using Router.Actors.Delivery;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Protocol;

namespace Router.Actors.Tests.Cluster;

/// <summary>
/// Messages that cross nodes in a cluster (to sharded mailbox and domain entities, and their
/// replies) must survive Akka's serializer: a round trip gives back an equal message, and a
/// body held in memory is never put on the wire.
/// </summary>
public sealed class RemoteMessageSerializationTests : TestKit
{
    private T RoundTrip<T>(T message)
        where T : notnull
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        var bytes = serializer.ToBinary(message);
        return (T)Sys.Serialization.Deserialize(bytes, serializer.Identifier, typeof(T));
    }

    [Fact]
    public void Mailbox_delivery_by_reference_round_trips_without_the_in_memory_body()
    {
        var deliver = new MailboxActor.Deliver("demo@example.test", 7, "a@b.test", [1, 2, 3], new byte[] { 9, 9, 9 }, "Q123") { DeliveredTo = "demo+lists@example.test" };
        var back = RoundTrip(deliver);
        Assert.Equal("demo+lists@example.test", back.DeliveredTo);
        Assert.Equal(deliver.Mailbox, back.Mailbox);
        Assert.Equal(deliver.TransactionId, back.TransactionId);
        Assert.Equal(deliver.ReturnPath, back.ReturnPath);
        Assert.Equal(deliver.Trace, back.Trace);
        Assert.Equal("Q123", back.StoredAs);
        Assert.True(back.Body.IsEmpty);
    }

    [Fact]
    public void Domain_enqueue_and_its_answer_round_trip()
    {
        var message = new QueuedMessage("Q1", "remote.test", null, "env-1", true, false, true, DateTimeOffset.UnixEpoch.AddDays(1), 4096,
            [new QueuedRecipient("x@remote.test", DsnNotify.Failure | DsnNotify.Delay, "rfc822;x@remote.test")]);
        var back = RoundTrip(new DomainDeliveryActor.Enqueue("remote.test", message));
        Assert.Equal("remote.test", back.Domain);
        Assert.Equal(message with { Recipients = back.Message.Recipients }, back.Message);
        Assert.Equal(message.Recipients, back.Message.Recipients);
        Assert.Equal(new DomainDeliveryActor.Accepted("Q1"), RoundTrip(new DomainDeliveryActor.Accepted("Q1")));
    }

    [Fact]
    public void A_body_sweep_request_round_trips_with_its_queue_ids()
    {
        var back = RoundTrip(new DomainDeliveryActor.SweepBodies("remote.test", ["Q1", "Q2"]));
        Assert.Equal("remote.test", back.Domain);
        Assert.Equal(["Q1", "Q2"], back.QueueIds);
    }

    [Fact]
    public void Owner_replies_round_trip_with_their_kind()
    {
        Assert.IsType<OwnerReply.Durable>(RoundTrip<OwnerReply>(new OwnerReply.Durable(3, "demo@example.test")));
        var failed = Assert.IsType<OwnerReply.Failed>(RoundTrip<OwnerReply>(new OwnerReply.Failed(3, "relay", "disk full")));
        Assert.Equal("disk full", failed.Reason);
    }

    [Fact]
    public void Queue_events_round_trip()
    {
        QueueEvent e = new QueueEvent.Attempted("Q1", [new RecipientResult(0, RecipientOutcome.Deferred, 451, "4.3.0", "later", "mx.remote.test")], DateTimeOffset.UnixEpoch);
        var back = Assert.IsType<QueueEvent.Attempted>(RoundTrip(e));
        Assert.Equal(((QueueEvent.Attempted)e).Results, back.Results);
    }
}
