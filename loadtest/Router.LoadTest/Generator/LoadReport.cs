namespace Router.LoadTest.Generator;

/// <summary>
/// The outcome of a load run. A message counts once: accepted (2xx after DATA), 4xx or 5xx (the
/// reply that refused it), or lost to a connection error. Latency is from MAIL to the reply
/// after DATA, in milliseconds, over accepted and refused messages alike.
/// </summary>
public sealed record LoadReport
{
    public long Sent { get; init; }
    public long Accepted { get; init; }
    public long TempFailed { get; init; }
    public long PermFailed { get; init; }

    /// <summary>Failed connects plus transactions cut short by a broken connection.</summary>
    public long ConnectionErrors { get; init; }

    /// <summary>Messages lost to a connection error (part of Sent).</summary>
    public long Aborted { get; init; }

    public long RecipientsAccepted { get; init; }
    public long RecipientsTempFailed { get; init; }
    public long RecipientsPermFailed { get; init; }

    /// <summary>Size of the accepted messages: a refused one (at MAIL, at RCPT, or by the client for SIZE) often never sent its content.</summary>
    public long BytesAccepted { get; init; }

    public double ElapsedSeconds { get; init; }

    /// <summary>Messages sent per second, whatever their outcome.</summary>
    public double MessagesPerSecond { get; init; }

    /// <summary>Megabytes (10^6 bytes) of accepted messages per second.</summary>
    public double MegabytesPerSecond { get; init; }
    public double LatencyP50Ms { get; init; }
    public double LatencyP90Ms { get; init; }
    public double LatencyP99Ms { get; init; }
    public double LatencyMaxMs { get; init; }

    /// <summary>The last connection error seen, for the operator; null when there was none.</summary>
    public string? LastError { get; init; }
}
