namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// What a test's router is configured with. Everything here becomes the HOCON override file the
/// real process reads with <c>--config</c>; <see cref="ExtraHocon"/> is appended verbatim, so a
/// test can set anything else (it wins over the generated values).
/// </summary>
public sealed record RouterOptions
{
    public string Hostname { get; init; } = "mx.router.test";

    public IReadOnlyList<string> LocalDomains { get; init; } = ["example.test"];

    public IReadOnlyList<string> Mailboxes { get; init; } =
        ["demo@example.test", "alice@example.test", "bob@example.test", "carol@example.test"];

    /// <summary>Address -> targets.</summary>
    public IReadOnlyDictionary<string, string[]> Aliases { get; init; } = new Dictionary<string, string[]>
    {
        ["postmaster@example.test"] = ["carol@example.test"],
        ["team@example.test"] = ["alice@example.test", "bob@example.test", "alice@example.test"],
    };

    public IReadOnlyDictionary<string, string> CatchAll { get; init; } = new Dictionary<string, string>();

    public string Postmaster { get; init; } = "postmaster@example.test";

    /// <summary>CIDR blocks that may relay; null keeps the default (loopback).</summary>
    public IReadOnlyList<string>? TrustedNetworks { get; init; }

    public string? MaxMessageSize { get; init; }

    public int? MaxRecipients { get; init; }

    public TimeSpan? IdleTimeout { get; init; }

    public int? MaxErrors { get; init; }

    public int? MaxConnections { get; init; }

    /// <summary>More MTA listeners ("ip:port") beside the one on 127.0.0.1 the tests connect to.</summary>
    public IReadOnlyList<string> ExtraEndpoints { get; init; } = [];

    /// <summary>HOCON appended after the generated settings.</summary>
    public string ExtraHocon { get; init; } = "";

    /// <summary>Start the router through nohup(1), which leaves it SIGHUP set to be ignored.</summary>
    public bool SighupIgnored { get; init; }

    /// <summary>Starts the router under prlimit(1) with this open-file limit (soft and hard); null: the inherited one.</summary>
    public int? OpenFileLimit { get; init; }

    /// <summary>Environment variables of the router process (SSL_CERT_FILE: the trust store its outbound TLS verifies against).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}
