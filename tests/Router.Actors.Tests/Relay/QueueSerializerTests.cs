using Akka.TestKit.Xunit2;
using Router.Actors.Delivery;
using Router.Protocol;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// What a domain queue persists goes through <see cref="QueueSerializer"/> (not Akka's reflective
/// default) and comes back equal: every event kind, and a snapshot whose entries carry results,
/// bounce marks and DSN parameters.
/// </summary>
public sealed class QueueSerializerTests() : TestKit(QueueSerializer.Config, "queue-serializer")
{
    private static readonly DateTimeOffset Arrived = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private static readonly QueuedMessage Message = new(
        "Q7", "remote.test", "alice@example.test", "env-7", ReturnFull: true, SmtpUtf8: true, EightBitMime: false, Arrived, 4096,
        [
            new QueuedRecipient("bob@remote.test", DsnNotify.Failure | DsnNotify.Delay, "rfc822;bob@remote.test"),
            new QueuedRecipient("carol@remote.test", DsnNotify.None, null),
        ]);

    private static readonly RecipientResult[] Results =
    [
        new(0, RecipientOutcome.Deferred, 451, "4.2.0", "try later", "mx.remote.test"),
        new(1, RecipientOutcome.Failed, 550, null, "no such user", null, Expired: true),
    ];

    private T RoundTrip<T>(T value)
        where T : notnull
    {
        var serializer = Sys.Serialization.FindSerializerFor(value);
        Assert.IsType<QueueSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, value);
        return (T)Sys.Serialization.Deserialize(serializer.ToBinary(value), serializer.Identifier, manifest);
    }

    [Fact]
    public void Enqueued_round_trips_with_every_envelope_field()
    {
        var back = RoundTrip<QueueEvent>(new QueueEvent.Enqueued(Message));
        var message = Assert.IsType<QueueEvent.Enqueued>(back).Message;
        Assert.Equal(Message with { Recipients = [] }, message with { Recipients = [] });
        Assert.Equal(Message.Recipients, message.Recipients);
    }

    [Fact]
    public void Outcome_events_round_trip()
    {
        var next = Arrived.AddMinutes(5);
        var attempted = Assert.IsType<QueueEvent.Attempted>(RoundTrip<QueueEvent>(new QueueEvent.Attempted("Q7", Results, next)));
        Assert.Equal("Q7", attempted.QueueId);
        Assert.Equal(next, attempted.NextAttempt);
        Assert.Equal(Results, attempted.Results);

        Assert.Equal(new QueueEvent.DelayNotified("Q7"), RoundTrip<QueueEvent>(new QueueEvent.DelayNotified("Q7")));
        Assert.Equal(new QueueEvent.Removed("Q7"), RoundTrip<QueueEvent>(new QueueEvent.Removed("Q7")));
        var bounced = Assert.IsType<QueueEvent.Bounced>(RoundTrip<QueueEvent>(new QueueEvent.Bounced("Q7", [1])));
        Assert.Equal([1], bounced.Recipients);
    }

    [Fact]
    public void Snapshot_round_trips_to_the_same_queue_state()
    {
        var queue = new DomainQueue();
        queue.Apply(new QueueEvent.Enqueued(Message));
        queue.Apply(new QueueEvent.Attempted("Q7", Results, Arrived.AddMinutes(5)));
        queue.Apply(new QueueEvent.DelayNotified("Q7"));

        var entry = Assert.Single(DomainQueue.FromSnapshot(RoundTrip(queue.ToSnapshot())).Entries);
        var original = queue.Find("Q7")!;
        Assert.Equal(original.Message.QueueId, entry.Message.QueueId);
        Assert.Equal(original.Message.Recipients, entry.Message.Recipients);
        Assert.Equal(original.States, entry.States);
        Assert.Equal(original.BounceDone, entry.BounceDone);
        Assert.Equal(1, entry.Attempts);
        Assert.Equal(original.NextAttempt, entry.NextAttempt);
        Assert.True(entry.DelayNotified);
        Assert.Equal(original.OwedBounces(), entry.OwedBounces());
    }
}
