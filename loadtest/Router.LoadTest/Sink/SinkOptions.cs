using System.Net;

namespace Router.LoadTest.Sink;

/// <summary>Settings of the counting sink; see `loadtest sink --help` for the command-line names.</summary>
public sealed record SinkOptions
{
    /// <summary>Where to listen; port 0 picks a free port (read it back from <see cref="SmtpSink.EndPoint"/>).</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 2525);

    public string HostName { get; init; } = "sink.test";

    /// <summary>Fraction of recipients answered 451 (spread evenly by a counter, not at random).</summary>
    public double TempFailFraction { get; init; }

    /// <summary>Fraction of recipients answered 550.</summary>
    public double PermFailFraction { get; init; }

    /// <summary>Checked before the fractions: the first rule whose pattern matches the address decides.</summary>
    public IReadOnlyList<RecipientRule> Rules { get; init; } = [];

    /// <summary>The SIZE announced in EHLO (RFC 1870) and enforced on DATA.</summary>
    public long MaxMessageSize { get; init; } = 64L * 1024 * 1024;

    /// <summary>When set, counters are written here as JSON every 200 ms and at stop.</summary>
    public string? StatsFile { get; init; }

    /// <summary>When set, each accepted message is stored as a file in this Maildir (tmp/ then new/).</summary>
    public string? Maildir { get; init; }

    /// <summary>
    /// Sessions served at once (0: no limit); a connection beyond them is greeted "421 4.7.0 Too
    /// many connections" and closed, as providers limit a client's connections.
    /// </summary>
    public int MaxConnections { get; init; }

    /// <summary>How long the reply to each message's final dot waits: a slow destination, whose transactions stay open.</summary>
    public TimeSpan DataReplyDelay { get; init; }

    /// <summary>When true, accepted messages are kept in memory for <see cref="SmtpSink.Messages"/> (tests).</summary>
    public bool CaptureMessages { get; init; }
}
