using System.Net;

namespace Router.LoadTest.Generator;

/// <summary>What one load run does; see `loadtest run --help` for the command-line names.</summary>
public sealed record LoadGeneratorOptions
{
    /// <summary>SMTP servers to load, used round-robin by the connections.</summary>
    public required IReadOnlyList<IPEndPoint> Targets { get; init; }

    /// <summary>Concurrent SMTP sessions; each reuses its session for many messages.</summary>
    public int Connections { get; init; } = 1;

    /// <summary>Stop after this many messages. With neither this nor Duration, 1000 messages.</summary>
    public long? Messages { get; init; }

    /// <summary>Stop after this long. With Messages too, whichever comes first.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Open loop: start messages at this many per second, whatever the latency. Null: closed loop, as fast as replies allow.</summary>
    public double? Rate { get; init; }

    public SizeRange Size { get; init; } = SizeRange.Fixed(4096);

    public int RecipientsPerMessage { get; init; } = 1;

    /// <summary>Recipients to use round-robin. When empty, addresses are made up in LocalDomain/RemoteDomain.</summary>
    public IReadOnlyList<string> To { get; init; } = [];

    public string LocalDomain { get; init; } = "local.test";

    public string? RemoteDomain { get; init; }

    /// <summary>Share of made-up recipients in RemoteDomain (0..1), spread evenly.</summary>
    public double RemoteFraction { get; init; }

    public string From { get; init; } = "loadtest@loadtest.test";

    public bool Pipelining { get; init; } = true;

    /// <summary>STARTTLS on every connection. The server's certificate is not verified: this is a load test.</summary>
    public bool StartTls { get; init; }

    public string? AuthUser { get; init; }

    public string? AuthPassword { get; init; }

    public string HeloName { get; init; } = "loadtest.test";

    /// <summary>Every SMTP timeout of the client (connect, greeting, each command, data).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}
