using Router.Actors.Delivery;
using Router.Protocol;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// The pure state of a domain's queue: what each event does, when a message is finished (every
/// recipient delivered, or failed and bounced, or failed with no bounce owed), and that a
/// snapshot or a replay gives back the same state (recovery).
/// </summary>
public sealed class DomainQueueTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 15, 0, 0, TimeSpan.Zero);

    private static QueuedMessage Message(string id, string? sender = "alice@example.test", params QueuedRecipient[] recipients) =>
        new(id, "remote.test", sender, null, false, false, false, T0, 100,
            recipients.Length > 0 ? recipients : [Rcpt("a@remote.test"), Rcpt("b@remote.test")]);

    private static QueuedRecipient Rcpt(string address, DsnNotify notify = DsnNotify.None) => new(address, notify, null);

    private static RecipientResult Delivered(int i) => new(i, RecipientOutcome.Delivered, 250, "2.0.0", "Ok", "mx.remote.test");

    /// <summary>Delivered to a server that offered DSN (<paramref name="dsn"/>) or not.</summary>
    private static RecipientResult Relayed(int i, bool dsn) => Delivered(i) with { PeerOfferedDsn = dsn };

    private static RecipientResult Deferred(int i) => new(i, RecipientOutcome.Deferred, 451, "4.3.0", "Try later", "mx.remote.test");

    private static RecipientResult Failed(int i) => new(i, RecipientOutcome.Failed, 550, "5.1.1", "No such user", "mx.remote.test");

    private static DomainQueue With(params QueueEvent[] events)
    {
        var queue = new DomainQueue();
        foreach (var e in events) queue.Apply(e);
        return queue;
    }

    [Fact]
    public void Enqueued_message_has_every_recipient_pending_and_is_due_at_once()
    {
        var queue = With(new QueueEvent.Enqueued(Message("Q1")));

        var entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Equal([0, 1], entry.PendingRecipients);
        Assert.Equal(0, entry.Attempts);
        Assert.Equal(T0, entry.NextAttempt);
        Assert.False(entry.IsFinished);
    }

    [Fact]
    public void Message_leaves_the_queue_when_every_recipient_is_delivered()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Delivered(0), Delivered(1)], T0.AddMinutes(1)));

        Assert.Null(queue.Find("Q1"));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Deferred_recipient_stays_pending_with_the_next_attempt_time()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Delivered(0), Deferred(1)], T0.AddMinutes(1)));

        var entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Equal([1], entry.PendingRecipients);
        Assert.Equal(1, entry.Attempts);
        Assert.Equal(T0.AddMinutes(1), entry.NextAttempt);
        Assert.Empty(entry.OwedBounces());
    }

    [Fact]
    public void Attempt_time_is_kept_and_an_expiry_without_an_attempt_leaves_it()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Deferred(0), Deferred(1)], T0.AddMinutes(1), AttemptedAt: T0.AddSeconds(3)),
            new QueueEvent.Attempted("Q1", [Deferred(0), Deferred(1)], T0.AddMinutes(2), AttemptedAt: T0.AddMinutes(1).AddSeconds(2)));
        Assert.Equal(T0.AddMinutes(1).AddSeconds(2), queue.Find("Q1")!.LastAttemptAt);

        // The give-up time passed: the results change, the time of the last attempt does not.
        queue.Apply(new QueueEvent.Attempted("Q1", [Deferred(0) with { Outcome = RecipientOutcome.Failed, Expired = true }], T0.AddMinutes(2)));
        Assert.Equal(T0.AddMinutes(1).AddSeconds(2), queue.Find("Q1")!.LastAttemptAt);
        Assert.Equal(T0.AddMinutes(1).AddSeconds(2), DomainQueue.FromSnapshot(queue.ToSnapshot()).Find("Q1")!.LastAttemptAt);
    }

    [Fact]
    public void Later_attempt_only_changes_the_recipients_it_reports()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Delivered(0), Deferred(1)], T0.AddMinutes(1)),
            new QueueEvent.Attempted("Q1", [Deferred(1)], T0.AddMinutes(6)));

        var entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Equal(RecipientOutcome.Delivered, entry.States[0]!.Outcome);
        Assert.Equal([1], entry.PendingRecipients);
        Assert.Equal(2, entry.Attempts);
        Assert.Equal(T0.AddMinutes(6), entry.NextAttempt);
    }

    [Fact]
    public void Failed_recipient_is_owed_a_bounce_until_it_is_sent()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Delivered(0), Failed(1)], T0.AddMinutes(1)));

        var entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Equal([1], entry.OwedBounces());
        Assert.Empty(entry.PendingRecipients);
        Assert.False(entry.IsFinished);

        queue.Apply(new QueueEvent.Bounced("Q1", [1]));

        Assert.Null(queue.Find("Q1"));
    }

    [Fact]
    public void Null_sender_is_never_owed_a_bounce()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1", sender: null)),
            new QueueEvent.Attempted("Q1", [Failed(0), Failed(1)], T0.AddMinutes(1)));

        Assert.Null(queue.Find("Q1"));
    }

    [Fact]
    public void NOTIFY_NEVER_and_NOTIFY_DELAY_alone_are_owed_no_failure_bounce()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1", "alice@example.test", Rcpt("a@remote.test", DsnNotify.Never), Rcpt("b@remote.test", DsnNotify.Delay), Rcpt("c@remote.test", DsnNotify.Failure))),
            new QueueEvent.Attempted("Q1", [Failed(0), Failed(1), Failed(2)], T0.AddMinutes(1)));

        var entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Equal([2], entry.OwedBounces());
    }

    [Fact]
    public void NOTIFY_SUCCESS_delivered_to_a_server_without_DSN_is_owed_a_relayed_notice_until_it_is_sent()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1", "alice@example.test", Rcpt("a@remote.test", DsnNotify.Success | DsnNotify.Failure), Rcpt("b@remote.test", DsnNotify.Success))),
            new QueueEvent.Attempted("Q1", [Relayed(0, dsn: false), Deferred(1)], T0.AddMinutes(1)));

        var entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Equal([0], entry.OwedSuccessNotices());
        queue.Apply(new QueueEvent.SuccessNotified("Q1", [0]));
        Assert.Empty(queue.Find("Q1")!.OwedSuccessNotices());

        // The last recipient delivered: the message stays until its notice is handed over.
        queue.Apply(new QueueEvent.Attempted("Q1", [Relayed(1, dsn: false)], T0.AddMinutes(2)));
        entry = Assert.IsType<QueueEntry>(queue.Find("Q1"));
        Assert.Empty(entry.PendingRecipients);
        Assert.Equal([1], entry.OwedSuccessNotices());
        Assert.False(entry.IsFinished);

        queue.Apply(new QueueEvent.SuccessNotified("Q1", [1]));
        Assert.Null(queue.Find("Q1"));
    }

    [Fact]
    public void No_relayed_notice_is_owed_after_a_DSN_server_without_SUCCESS_to_a_null_sender_or_for_an_old_result()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1", "alice@example.test",
                Rcpt("a@remote.test", DsnNotify.Success), Rcpt("b@remote.test", DsnNotify.Failure), Rcpt("c@remote.test", DsnNotify.Never),
                Rcpt("d@remote.test"), Rcpt("e@remote.test", DsnNotify.Success))),
            new QueueEvent.Enqueued(Message("Q2", null, Rcpt("a@remote.test", DsnNotify.Success), Rcpt("b@remote.test"))),
            // e: a result written by a version that did not record what the server offered.
            new QueueEvent.Attempted("Q1", [Relayed(0, dsn: true), Relayed(1, dsn: false), Relayed(2, dsn: false), Relayed(3, dsn: false), Delivered(4)], T0.AddMinutes(1)),
            new QueueEvent.Attempted("Q2", [Relayed(0, dsn: false), Deferred(1)], T0.AddMinutes(1)));

        Assert.Null(queue.Find("Q1"));
        Assert.Empty(queue.Find("Q2")!.OwedSuccessNotices());
    }

    [Fact]
    public void An_owed_relayed_notice_survives_a_snapshot_and_the_replay_after_it()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1", "alice@example.test", Rcpt("a@remote.test", DsnNotify.Success), Rcpt("b@remote.test", DsnNotify.Success))),
            new QueueEvent.Attempted("Q1", [Relayed(0, dsn: false), Failed(1)], T0.AddMinutes(1)),
            new QueueEvent.Bounced("Q1", [1]));

        var restored = DomainQueue.FromSnapshot(queue.ToSnapshot());

        var entry = Assert.IsType<QueueEntry>(restored.Find("Q1"));
        Assert.Equal([0], entry.OwedSuccessNotices());
        Assert.Empty(entry.OwedBounces());
        restored.Apply(new QueueEvent.SuccessNotified("Q1", [0]));
        Assert.Null(restored.Find("Q1"));
    }

    [Fact]
    public void Delay_notice_is_remembered()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Deferred(0), Deferred(1)], T0.AddMinutes(1)),
            new QueueEvent.DelayNotified("Q1"));

        Assert.True(queue.Find("Q1")!.DelayNotified);
    }

    [Fact]
    public void Removed_message_leaves_and_later_events_for_it_are_ignored()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Removed("Q1"),
            new QueueEvent.Attempted("Q1", [Deferred(0)], T0.AddMinutes(1)),
            new QueueEvent.Bounced("Q1", [0]),
            new QueueEvent.DelayNotified("Q1"));

        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Messages_are_independent()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Enqueued(Message("Q2")),
            new QueueEvent.Attempted("Q1", [Delivered(0), Delivered(1)], T0.AddMinutes(1)));

        Assert.Null(queue.Find("Q1"));
        Assert.Equal([0, 1], queue.Find("Q2")!.PendingRecipients);
    }

    [Fact]
    public void Snapshot_restores_the_same_state()
    {
        var queue = With(
            new QueueEvent.Enqueued(Message("Q1")),
            new QueueEvent.Attempted("Q1", [Failed(0), Deferred(1)], T0.AddMinutes(1)),
            new QueueEvent.DelayNotified("Q1"),
            new QueueEvent.Enqueued(Message("Q2")));

        var restored = DomainQueue.FromSnapshot(queue.ToSnapshot());

        Assert.Equal(2, restored.Count);
        var entry = restored.Find("Q1")!;
        Assert.Equal([0], entry.OwedBounces());
        Assert.Equal([1], entry.PendingRecipients);
        Assert.True(entry.DelayNotified);
        Assert.Equal(1, entry.Attempts);
        Assert.Equal(T0.AddMinutes(1), entry.NextAttempt);
        // Events after the snapshot apply as they would have to the original.
        restored.Apply(new QueueEvent.Bounced("Q1", [0]));
        restored.Apply(new QueueEvent.Attempted("Q1", [Delivered(1)], T0.AddMinutes(2)));
        Assert.Null(restored.Find("Q1"));
    }

    [Fact]
    public void Snapshot_is_a_copy_that_later_events_leave_alone()
    {
        // The snapshot store serializes on its own thread while the queue goes on applying events:
        // what it holds must be the state at the snapshot, or a recovery applies those events twice.
        var queue = With(new QueueEvent.Enqueued(Message("Q1")));
        var snapshot = queue.ToSnapshot();

        queue.Apply(new QueueEvent.Attempted("Q1", [Failed(0), Deferred(1)], T0.AddMinutes(1)));
        queue.Apply(new QueueEvent.DelayNotified("Q1"));

        var saved = Assert.Single(snapshot.Entries);
        Assert.Equal(0, saved.Attempts);
        Assert.All(saved.States, Assert.Null);
        Assert.Equal([false, false], saved.BounceDone);
        Assert.False(saved.DelayNotified);
        Assert.Equal(T0, saved.NextAttempt);

        // Nor does a queue restored from it change the snapshot (an in-memory store keeps the object).
        var restored = DomainQueue.FromSnapshot(snapshot);
        restored.Apply(new QueueEvent.Attempted("Q1", [Delivered(0), Delivered(1)], T0.AddMinutes(1)));
        Assert.Null(restored.Find("Q1"));
        Assert.Equal(0, saved.Attempts);
        Assert.All(saved.States, Assert.Null);
    }
}
