using System.Text;
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
    public void RET_HDRS_round_trips_in_the_event_and_the_snapshot()
    {
        var headers = Message with { ReturnFull = false, ReturnHeaders = true };
        var message = Assert.IsType<QueueEvent.Enqueued>(RoundTrip<QueueEvent>(new QueueEvent.Enqueued(headers))).Message;
        Assert.Equal(DsnReturn.Headers, message.Return());

        var queue = new DomainQueue();
        queue.Apply(new QueueEvent.Enqueued(headers));
        Assert.Equal(DsnReturn.Headers, Assert.Single(DomainQueue.FromSnapshot(RoundTrip(queue.ToSnapshot())).Entries).Message.Return());
    }

    [Fact]
    public void Envelopes_written_before_RET_HDRS_was_kept_still_load_with_their_RET()
    {
        // As an earlier version wrote them: ReturnFull only, so RET=HDRS and no RET were both false.
        var serializer = Assert.IsType<QueueSerializer>(Sys.Serialization.FindSerializerForType(typeof(QueueEvent)));
        static byte[] Enqueued(bool returnFull) => Encoding.UTF8.GetBytes(
            $$$"""{"Message":{"QueueId":"Q7","Domain":"remote.test","Sender":"alice@example.test","EnvelopeId":"env-7","ReturnFull":{{{(returnFull ? "true" : "false")}}},"SmtpUtf8":false,"EightBitMime":false,"ArrivedAt":"2026-11-29T12:00:00+00:00","Size":10,"Recipients":[{"Address":"bob@remote.test","Notify":"None"}]}}""");
        var full = Assert.IsType<QueueEvent.Enqueued>(serializer.FromBinary(Enqueued(returnFull: true), "E")).Message;
        Assert.Equal(DsnReturn.Full, full.Return());
        var none = Assert.IsType<QueueEvent.Enqueued>(serializer.FromBinary(Enqueued(returnFull: false), "E")).Message;
        Assert.False(none.ReturnHeaders);
        Assert.Equal(DsnReturn.None, none.Return());
        Assert.Equal("env-7", none.EnvelopeId);
        Assert.Equal("bob@remote.test", Assert.Single(none.Recipients).Address);
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
        var notified = Assert.IsType<QueueEvent.SuccessNotified>(RoundTrip<QueueEvent>(new QueueEvent.SuccessNotified("Q7", [0])));
        Assert.Equal([0], notified.Recipients);
    }

    [Fact]
    public void An_owed_relayed_notice_round_trips_in_the_event_and_the_snapshot()
    {
        // Delivered to a server without DSN, NOTIFY=SUCCESS: the sender is owed a "relayed" notice.
        var message = Message with { Recipients = [new QueuedRecipient("bob@remote.test", DsnNotify.Success, null), new QueuedRecipient("carol@remote.test", DsnNotify.Success, null)] };
        RecipientResult[] results =
        [
            new(0, RecipientOutcome.Delivered, 250, "2.0.0", "Ok", "mx.remote.test", PeerOfferedDsn: false),
            new(1, RecipientOutcome.Delivered, 250, "2.0.0", "Ok", "mx.remote.test", PeerOfferedDsn: false),
        ];
        var attempted = Assert.IsType<QueueEvent.Attempted>(RoundTrip<QueueEvent>(new QueueEvent.Attempted("Q7", results, Arrived.AddMinutes(5))));
        Assert.Equal(results, attempted.Results);

        var queue = new DomainQueue();
        queue.Apply(new QueueEvent.Enqueued(message));
        queue.Apply(attempted);
        queue.Apply(new QueueEvent.SuccessNotified("Q7", [1]));
        var entry = Assert.Single(DomainQueue.FromSnapshot(RoundTrip(queue.ToSnapshot())).Entries);
        Assert.Equal([0], entry.OwedSuccessNotices());
        Assert.Equal([false, true], entry.SuccessNoticeDone);
    }

    [Fact]
    public void Attempt_time_round_trips_in_the_event_and_the_snapshot()
    {
        var at = Arrived.AddMinutes(1);
        var attempted = Assert.IsType<QueueEvent.Attempted>(RoundTrip<QueueEvent>(new QueueEvent.Attempted("Q7", Results, Arrived.AddMinutes(5), at)));
        Assert.Equal(at, attempted.AttemptedAt);

        var queue = new DomainQueue();
        queue.Apply(new QueueEvent.Enqueued(Message));
        queue.Apply(attempted);
        Assert.Equal(at, Assert.Single(DomainQueue.FromSnapshot(RoundTrip(queue.ToSnapshot())).Entries).LastAttemptAt);
    }

    [Fact]
    public void Event_and_snapshot_written_before_the_attempt_time_was_kept_still_load()
    {
        // As an earlier version wrote them: no AttemptedAt in the event, no LastAttemptAt in the entry.
        var serializer = Assert.IsType<QueueSerializer>(Sys.Serialization.FindSerializerForType(typeof(QueueEvent)));
        var oldEvent = Encoding.UTF8.GetBytes(
            """{"QueueId":"Q7","Results":[{"Index":0,"Outcome":"Deferred","Code":451,"Enhanced":"4.2.0","Text":"try later","RemoteMta":"mx.remote.test","Expired":false}],"NextAttempt":"2026-11-29T12:05:00+00:00"}""");
        var attempted = Assert.IsType<QueueEvent.Attempted>(serializer.FromBinary(oldEvent, "A"));
        Assert.Null(attempted.AttemptedAt);
        Assert.Equal(Results[0], attempted.Results[0]);

        var oldSnapshot = Encoding.UTF8.GetBytes(
            """{"Entries":[{"Message":{"QueueId":"Q7","Domain":"remote.test","Sender":"alice@example.test","ReturnFull":false,"SmtpUtf8":false,"EightBitMime":false,"ArrivedAt":"2026-11-29T12:00:00+00:00","Size":10,"Recipients":[{"Address":"bob@remote.test","Notify":"None"}]},"States":[null],"BounceDone":[false],"Attempts":1,"NextAttempt":"2026-11-29T12:05:00+00:00","DelayNotified":false}]}""");
        var entry = Assert.Single(Assert.IsType<DomainQueueSnapshot>(serializer.FromBinary(oldSnapshot, "S")).Entries);
        Assert.Equal(1, entry.Attempts);
        Assert.Null(entry.LastAttemptAt);
    }

    [Fact]
    public void Results_and_snapshots_written_before_success_notices_still_load_and_owe_none()
    {
        // As an earlier version wrote them: no PeerOfferedDsn in a delivered result, no SuccessNoticeDone in the entry.
        var serializer = Assert.IsType<QueueSerializer>(Sys.Serialization.FindSerializerForType(typeof(QueueEvent)));
        var oldEvent = Encoding.UTF8.GetBytes(
            """{"QueueId":"Q7","Results":[{"Index":0,"Outcome":"Delivered","Code":250,"Enhanced":"2.0.0","Text":"Ok","RemoteMta":"mx.remote.test","Expired":false}],"NextAttempt":"2026-11-29T12:05:00+00:00"}""");
        var attempted = Assert.IsType<QueueEvent.Attempted>(serializer.FromBinary(oldEvent, "A"));
        Assert.Null(attempted.Results[0].PeerOfferedDsn);

        var oldSnapshot = Encoding.UTF8.GetBytes(
            """{"Entries":[{"Message":{"QueueId":"Q7","Domain":"remote.test","Sender":"alice@example.test","ReturnFull":false,"SmtpUtf8":false,"EightBitMime":false,"ArrivedAt":"2026-11-29T12:00:00+00:00","Size":10,"Recipients":[{"Address":"bob@remote.test","Notify":"Success"},{"Address":"carol@remote.test","Notify":"Success"}]},"States":[null,null],"BounceDone":[false,false],"Attempts":1,"NextAttempt":"2026-11-29T12:05:00+00:00","DelayNotified":false}]}""");
        var queue = DomainQueue.FromSnapshot(Assert.IsType<DomainQueueSnapshot>(serializer.FromBinary(oldSnapshot, "S")));
        var entry = Assert.Single(queue.Entries);
        Assert.Empty(entry.OwedSuccessNotices());
        Assert.Equal([false, false], entry.SuccessNoticeDone);

        // Recipients still pending in such an entry are owed a notice when this version delivers them.
        queue.Apply(new QueueEvent.Attempted("Q7", [new(0, RecipientOutcome.Delivered, 250, "2.0.0", "Ok", "mx.remote.test", PeerOfferedDsn: false), new(1, RecipientOutcome.Deferred, 451, "4.2.0", "later", "mx.remote.test")], Arrived.AddMinutes(6)));
        Assert.Equal([0], queue.Find("Q7")!.OwedSuccessNotices());
        queue.Apply(new QueueEvent.SuccessNotified("Q7", [0]));
        Assert.Empty(queue.Find("Q7")!.OwedSuccessNotices());
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
