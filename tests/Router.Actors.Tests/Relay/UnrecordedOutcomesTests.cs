using Router.Actors.Delivery;
using Router.Protocol;
using Router.Protocol.Dsn;

namespace Router.Actors.Tests.Relay;

/// <summary>The node's record of outcomes not in the journal yet: per domain, oldest first, each fact once, bounded.</summary>
public sealed class UnrecordedOutcomesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 17, 0, 0, TimeSpan.Zero);

    private static UnrecordedOutcomes.Attempt Delivered(string domain, string id) =>
        new(domain, id, [RecipientResult.From(0, new SmtpReply(250, "2.0.0", "Ok: queued"), "mx." + domain)], T0);

    [Fact]
    public void Outcomes_are_held_per_domain_oldest_first_until_confirmed()
    {
        var record = new UnrecordedOutcomes();
        var q1 = Delivered("a.test", "Q1");
        var q2 = Delivered("b.test", "Q2");
        var q3 = new UnrecordedOutcomes.Notice("a.test", "Q3", DsnKind.Failure, [0]);
        record.Add(q1);
        record.Add(q2);
        record.Add(q3);
        record.Add(q1); // the same fact again: held once

        Assert.Equal([q1, q3], record.For("a.test"));
        Assert.Equal(3, record.Count);
        record.Confirmed(q1);
        record.Confirmed(q1);
        Assert.Equal([q3], record.For("a.test"));
        record.Forget("a.test");
        Assert.Empty(record.For("a.test"));
        Assert.Equal([q2], record.For("b.test"));
    }

    [Fact]
    public void A_full_record_drops_its_oldest_outcome()
    {
        var record = new UnrecordedOutcomes(capacity: 2);
        var q1 = Delivered("a.test", "Q1");
        var q2 = Delivered("a.test", "Q2");
        var q3 = Delivered("b.test", "Q3");
        record.Add(q1);
        record.Add(q2);
        record.Add(q3);

        Assert.Equal(2, record.Count);
        Assert.Equal([q2], record.For("a.test"));
        Assert.Equal([q3], record.For("b.test"));
    }

    [Fact]
    public void Only_an_attempt_that_settled_a_recipient_is_worth_holding()
    {
        var deferred = RecipientResult.From(0, new SmtpReply(451, "4.3.0", "try later"), "mx.a.test");
        var refused = RecipientResult.From(1, new SmtpReply(550, "5.1.1", "no such user"), "mx.a.test");

        Assert.False(UnrecordedOutcomes.Attempt.Settles([deferred]));
        Assert.True(UnrecordedOutcomes.Attempt.Settles([deferred, refused]));
    }
}
