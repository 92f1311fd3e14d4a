using System.Diagnostics;

namespace Router.LoadTest.Sink;

/// <summary>
/// The sink's live counters, updated with Interlocked by every session, and a change signal so
/// a waiter (a test, a relay check) can await a condition without polling.
/// </summary>
internal sealed class SinkCounters
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private TaskCompletionSource _changed = NewSignal();

    public long Connections;
    public long ActiveConnections;
    public long Transactions;
    public long Messages;
    public long RecipientsAccepted;
    public long RecipientsTempFailed;
    public long RecipientsPermFailed;
    public long RecipientsDelivered;
    public long MessagesRejected;
    public long Bytes;
    public long ConnectionsTurnedAway;
    public long PeakConnections;

    /// <summary>Messages whose content has arrived and whose reply has not been sent yet (<see cref="SinkOptions.DataReplyDelay"/>).</summary>
    public long MessagesInFlight;
    public long PeakMessagesInFlight;

    public LatencyHistogram Latency { get; } = new();

    /// <summary>Completes at the next change of any counter.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    public void Signal() => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    public SinkStats Snapshot(string listen) => new()
    {
        Listen = listen,
        Connections = Interlocked.Read(ref Connections),
        ActiveConnections = Interlocked.Read(ref ActiveConnections),
        Transactions = Interlocked.Read(ref Transactions),
        Messages = Interlocked.Read(ref Messages),
        RecipientsAccepted = Interlocked.Read(ref RecipientsAccepted),
        RecipientsTempFailed = Interlocked.Read(ref RecipientsTempFailed),
        RecipientsPermFailed = Interlocked.Read(ref RecipientsPermFailed),
        RecipientsDelivered = Interlocked.Read(ref RecipientsDelivered),
        MessagesRejected = Interlocked.Read(ref MessagesRejected),
        Bytes = Interlocked.Read(ref Bytes),
        ConnectionsTurnedAway = Interlocked.Read(ref ConnectionsTurnedAway),
        PeakConnections = Interlocked.Read(ref PeakConnections),
        PeakMessagesInFlight = Interlocked.Read(ref PeakMessagesInFlight),
        LatencySamples = Latency.Count,
        LatencyP50Ms = Latency.PercentileMilliseconds(0.50),
        LatencyP90Ms = Latency.PercentileMilliseconds(0.90),
        LatencyP99Ms = Latency.PercentileMilliseconds(0.99),
        LatencyMaxMs = Latency.MaxMilliseconds,
        UptimeSeconds = Stopwatch.GetElapsedTime(_started).TotalSeconds,
    };

    /// <summary>Raises <paramref name="peak"/> to <paramref name="value"/> if it is lower.</summary>
    public static void RaisePeak(ref long peak, long value)
    {
        long seen;
        while ((seen = Interlocked.Read(ref peak)) < value && Interlocked.CompareExchange(ref peak, value, seen) != seen)
        {
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
