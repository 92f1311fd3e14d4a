using Router.Actors.Configuration;

namespace Router.Actors.Tests.Security;

internal static class TestSettings
{
    public static RouterSettings Create(Func<RouterSettings, RouterSettings>? change = null)
    {
        var settings = new RouterSettings
        {
            Hostname = "mx.example.test",
            DataDir = "/tmp/unused",
            SmtpEndpoints = [],
            LocalDomains = new HashSet<string> { "example.test" },
            Mailboxes = new HashSet<string> { "alice@example.test" },
            Aliases = new Dictionary<string, IReadOnlyList<string>> { ["team@example.test"] = ["alice@example.test"] },
            CatchAll = new Dictionary<string, string>(),
            Postmaster = "postmaster@example.test",
            TrustedNetworks = ["127.0.0.1/32"],
        };
        return change is null ? settings : change(settings);
    }
}
