using Router.Actors.Delivery;

namespace Router.Actors.Tests.Relay;

/// <summary>The waits of a domain queue: due order, one wait per message (the earlier), taking one or all.</summary>
public sealed class WaitingMessagesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);

    /// <summary>Each message waiting the given minutes after T0, added in the order given.</summary>
    private static WaitingMessages Waiting(params (string Id, int Minutes)[] waits)
    {
        var waiting = new WaitingMessages();
        foreach (var (id, minutes) in waits) waiting.Add(id, T0.AddMinutes(minutes));
        return waiting;
    }

    [Fact]
    public void Due_messages_come_out_earliest_first_and_only_once()
    {
        var waiting = Waiting(("Q3", 3), ("Q1", 1), ("Q2", 2));

        Assert.Equal(T0.AddMinutes(1), waiting.NextDue);
        Assert.Empty(waiting.TakeDue(T0));
        Assert.Equal(["Q1", "Q2"], waiting.TakeDue(T0.AddMinutes(2)));
        Assert.Empty(waiting.TakeDue(T0.AddMinutes(2)));
        Assert.Equal(T0.AddMinutes(3), waiting.NextDue);
        Assert.Equal(["Q3"], waiting.TakeDue(T0.AddHours(1)));
        Assert.Equal(DateTimeOffset.MaxValue, waiting.NextDue);
    }

    [Fact]
    public void A_second_wait_for_a_message_keeps_the_earlier_time()
    {
        var waiting = Waiting(("Q1", 5), ("Q1", 9));
        Assert.Equal(T0.AddMinutes(5), waiting.NextDue);

        waiting.Add("Q1", T0.AddMinutes(1));
        Assert.Equal(T0.AddMinutes(1), waiting.NextDue);
        Assert.Equal(["Q1"], waiting.TakeDue(T0.AddMinutes(10)));
        Assert.Empty(waiting.TakeDue(T0.AddHours(1)));
    }

    [Fact]
    public void Take_removes_one_message_or_all()
    {
        var waiting = Waiting(("Q1", 1), ("Q2", 2), ("Q3", 3));

        Assert.Equal(["Q2"], waiting.Take("Q2"));
        Assert.Empty(waiting.Take("Q2"));
        Assert.Empty(waiting.Take("unknown"));
        Assert.Equal(["Q1", "Q3"], waiting.Take(null));
        Assert.Equal(DateTimeOffset.MaxValue, waiting.NextDue);
        Assert.Empty(waiting.TakeDue(T0.AddHours(1)));
    }
}
