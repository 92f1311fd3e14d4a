namespace Router.LoadTest.Sink;

/// <summary>
/// A snapshot of the sink's counters. Latency is end to end: from the X-Loadtest-Sent header
/// stamped by the generator to the end of DATA at the sink, in milliseconds.
/// </summary>
public sealed record SinkStats
{
    public string Listen { get; init; } = "";
    public long Connections { get; init; }
    public long ActiveConnections { get; init; }

    /// <summary>MAIL commands accepted.</summary>
    public long Transactions { get; init; }

    /// <summary>Messages accepted after DATA.</summary>
    public long Messages { get; init; }

    public long RecipientsAccepted { get; init; }
    public long RecipientsTempFailed { get; init; }
    public long RecipientsPermFailed { get; init; }

    /// <summary>Accepted recipients of accepted messages: what a relay delivered.</summary>
    public long RecipientsDelivered { get; init; }

    /// <summary>Messages refused at the end of DATA (too large).</summary>
    public long MessagesRejected { get; init; }

    public long Bytes { get; init; }

    /// <summary>Connections greeted with 421 because <see cref="SinkOptions.MaxConnections"/> were being served.</summary>
    public long ConnectionsTurnedAway { get; init; }

    /// <summary>The most sessions served at once.</summary>
    public long PeakConnections { get; init; }

    /// <summary>The most messages at once whose content had arrived and whose reply had not been sent: deliveries in progress.</summary>
    public long PeakMessagesInFlight { get; init; }
    public long LatencySamples { get; init; }
    public double LatencyP50Ms { get; init; }
    public double LatencyP90Ms { get; init; }
    public double LatencyP99Ms { get; init; }
    public double LatencyMaxMs { get; init; }
    public double UptimeSeconds { get; init; }
}
