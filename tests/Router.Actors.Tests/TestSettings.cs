using Router.Actors.Configuration;

namespace Router.Actors.Tests;

/// <summary>The smallest <see cref="RouterSettings"/> actor tests run with: one local domain, one mailbox.</summary>
internal static class TestSettings
{
    public static RouterSettings Minimal(string hostname) => new()
    {
        Hostname = hostname,
        DataDir = Path.GetTempPath(),
        SmtpEndpoints = [],
        LocalDomains = new HashSet<string> { "example.test" },
        Mailboxes = new HashSet<string> { "alice@example.test" },
        Aliases = new Dictionary<string, IReadOnlyList<string>>(),
        CatchAll = new Dictionary<string, string>(),
        Postmaster = "alice@example.test",
        TrustedNetworks = [],
    };
}
