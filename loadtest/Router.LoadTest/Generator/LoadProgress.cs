namespace Router.LoadTest.Generator;

/// <summary>Live counters of a running load, for the progress display.</summary>
public sealed record LoadProgress(long Sent, long Accepted, long Failed, long ConnectionErrors, TimeSpan Elapsed)
{
    public double MessagesPerSecond => Elapsed.TotalSeconds > 0 ? Sent / Elapsed.TotalSeconds : 0;
}
