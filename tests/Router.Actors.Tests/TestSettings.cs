using Akka.Configuration;
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

    /// <summary>Akka.Persistence.TestKit's in-memory journal and snapshot store, steerable through <c>TestJournal.FromRef</c>.</summary>
    public static readonly Config InMemoryPersistence = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.persistence {
          journal {
            plugin = "akka.persistence.journal.test"
            auto-start-journals = ["akka.persistence.journal.test"]
            test {
              class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
              plugin-dispatcher = "akka.actor.default-dispatcher"
            }
          }
          snapshot-store {
            plugin = "akka.persistence.snapshot-store.test"
            auto-start-snapshot-stores = ["akka.persistence.snapshot-store.test"]
            test {
              class = "Akka.Persistence.TestKit.TestSnapshotStore, Akka.Persistence.TestKit"
              plugin-dispatcher = "akka.actor.default-dispatcher"
            }
          }
        }
        """);
}
