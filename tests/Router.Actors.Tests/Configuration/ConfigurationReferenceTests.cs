using System.Text.RegularExpressions;
using Akka.Configuration;
using Router.Actors.Configuration;

namespace Router.Actors.Tests.Configuration;

/// <summary>
/// config/akka.hocon is the one place settings are documented; these tests keep it loadable and
/// keep README's configuration reference in step with it.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    private static readonly string Root = FindRoot();

    [Fact]
    public void Shipped_configuration_loads_with_the_documented_defaults()
    {
        var config = Shipped;
        var settings = RouterSettings.FromConfig(config, _ => "/srv/router");
        var delivery = DeliverySettings.FromConfig(config);

        Assert.Equal("mx.example.test", settings.Hostname);
        Assert.Equal("/srv/router/data", settings.DataDir);
        Assert.Equal("/srv/router/data/maildir", settings.MaildirRoot);
        Assert.Equal("127.0.0.1:2525", Assert.Single(settings.SmtpEndpoints).ToString());
        Assert.Contains("demo@example.test", settings.Mailboxes);
        Assert.Equal(25L * 1024 * 1024, settings.MaxMessageSize);
        Assert.Equal(25L * 1024 * 1024 * 3 / 2, settings.MinFreeSpace);
        Assert.Equal(TimeSpan.FromMinutes(5), settings.IdleTimeout);
        Assert.True(settings.DropWrittenPages);
        Assert.False(SettingsWith("router.storage.drop-written-pages = off").DropWrittenPages);
        Assert.True(settings.SessionsOnSocketThreads);
        Assert.False(SettingsWith("router.smtp.sessions-on-socket-threads = off").SessionsOnSocketThreads);
        Assert.Equal(TimeSpan.FromHours(4), delivery.WarnAfter);
        Assert.Equal(TimeSpan.FromDays(5), delivery.GiveUpAfter);
        Assert.Equal(20, delivery.MaxConnectionsPerDestination);
        Assert.Equal(100, delivery.MaxConnections);
        Assert.Equal(100, new Router.Actors.Delivery.DomainServices(settings, delivery, null!, null!, null!).Slots.Capacity);
        Assert.Equal([TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30), TimeSpan.FromHours(1)], delivery.RetrySchedule);
    }

    private static Config Shipped => ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Root, "config", "akka.hocon")));

    /// <summary>The shipped configuration with <paramref name="overrides"/> (HOCON) over it.</summary>
    private static RouterSettings SettingsWith(string overrides) =>
        RouterSettings.FromConfig(ConfigurationFactory.ParseString(overrides).WithFallback(Shipped), _ => "/srv/router");

    [Theory]
    [InlineData("", true)]
    [InlineData("router.smtp.sessions-on-socket-threads = off", false)]
    [InlineData("router.queue { store = \"postgresql\", connection-string = \"Host=127.0.0.1;Database=router\" }", false)]
    public void Sessions_run_on_the_socket_threads_of_a_single_node_only(string overrides, bool expected)
    {
        var config = ConfigurationFactory.ParseString(overrides).WithFallback(Shipped);
        Assert.Equal(expected, Router.Actors.Smtp.SessionDispatcher.Applies(RouterSettings.FromConfig(config, _ => "/srv/router"), DeliverySettings.FromConfig(config)));
    }

    [Theory]
    [InlineData("max-message-size = 10MiB", 15L * 1024 * 1024)]
    [InlineData("max-message-size = 10MiB, min-free-space = auto", 15L * 1024 * 1024)]
    [InlineData("min-free-space = 100MiB", 100L * 1024 * 1024)]
    [InlineData("min-free-space = 0", 0L)]
    public void Free_space_needed_is_one_and_a_half_messages_unless_set(string limits, long expected) =>
        Assert.Equal(expected, SettingsWith($"router.limits {{ {limits} }}").MinFreeSpace);

    [Theory]
    [InlineData("max-body-memory = 512MiB", 512L * 1024 * 1024)]
    [InlineData("max-body-memory = 0", long.MaxValue)]
    public void Body_memory_is_a_size_or_unlimited(string limits, long expected) =>
        Assert.Equal(expected, SettingsWith($"router.limits {{ {limits} }}").MaxBodyMemory);

    [Fact]
    public void Body_memory_auto_is_a_quarter_of_what_the_process_may_use_and_at_least_two_messages()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Assert.True(available > 0, "the runtime reports no memory limit");
        Assert.Equal(Math.Max(available / 4, 50L * 1024 * 1024), SettingsWith("").MaxBodyMemory);
        Assert.Equal(2 * available, SettingsWith($"router.limits.max-message-size = {available}").MaxBodyMemory);
    }

    [Theory]
    [InlineData("router.limits.min-free-space", "plenty")]
    [InlineData("router.limits.max-body-memory", "lots")]
    public void A_size_that_is_neither_auto_nor_a_size_is_a_configuration_error(string setting, string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => SettingsWith($"{setting} = {value}"));
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Every number, duration, size and on/off setting, given a word instead: the start fails with
    /// a message naming the setting (Akka's own reads throw a FormatException that names nothing).
    /// </summary>
    [Fact]
    public void A_typed_setting_given_a_word_fails_the_start_naming_the_setting()
    {
        var typed = SettingNames.Leaves(Shipped.GetConfig("router").Root, "router")
            .Where(key => TypedValue().IsMatch(Shipped.GetString(key) ?? ""))
            .ToArray();
        Assert.True(typed.Length >= 30, $"only {typed.Length} typed settings found: {string.Join(", ", typed)}");
        var unnamed = typed.Where(key =>
        {
            var config = ConfigurationFactory.ParseString($"{key} = banana").WithFallback(Shipped);
            try
            {
                RouterSettings.FromConfig(config, _ => "/srv/router");
                DeliverySettings.FromConfig(config);
                return true;
            }
            catch (ConfigurationException e)
            {
                return !e.Message.Contains(key, StringComparison.Ordinal);
            }
        }).ToArray();
        Assert.True(unnamed.Length == 0, "not refused with the setting's name: " + string.Join(", ", unnamed));
    }

    [Theory]
    [InlineData("postmaster")]
    [InlineData("@example.test")]
    [InlineData("postmaster@")]
    public void A_postmaster_that_is_not_an_address_is_a_configuration_error(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => SettingsWith($"router.postmaster = \"{value}\""));
        Assert.Contains("router.postmaster", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("aliases { \"team@example.test\" = [\"demo@example.test\", \"nosuch@example.test\"] }", "router.aliases: team@example.test -> nosuch@example.test reaches no mailbox")]
    [InlineData("aliases { \"a@example.test\" = [\"b@example.test\"], \"b@example.test\" = [\"a@example.test\"] }", "reaches no mailbox")]
    [InlineData("aliases { \"team@example.test\" = [\"demo\"] }", "router.aliases: team@example.test -> demo reaches no mailbox")]
    [InlineData("catch-all { \"example.test\" = \"nosuch@example.test\" }", "router.catch-all: example.test -> nosuch@example.test reaches no mailbox")]
    public void An_alias_or_catch_all_target_that_reaches_no_mailbox_is_a_configuration_error(string tables, string expected)
    {
        // Accepted, a message for the alias would lose that copy without a trace (no bounce, no log).
        var error = Assert.Throws<ConfigurationException>(() => SettingsWith($"router {{ {tables} }}"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alias_targets_may_be_remote_or_reach_a_mailbox_through_an_extension_alias_or_catch_all()
    {
        var settings = SettingsWith("""
            router {
              local-domains = ["example.test", "other.test"]
              mailboxes = ["demo@example.test"]
              catch-all { "other.test" = "demo@example.test" }
              aliases { "team@example.test" = ["demo+news@example.test", "anyone@other.test", "x@remote.test", "list@example.test"], "list@example.test" = ["demo@example.test"] }
            }
            """);
        Assert.Equal(2, settings.Aliases.Count);
    }

    [Fact]
    public void A_retry_schedule_entry_that_is_not_a_duration_is_named()
    {
        var config = ConfigurationFactory.ParseString("router.queue.retry-schedule = [1m, soon]").WithFallback(Shipped);
        var error = Assert.Throws<ConfigurationException>(() => DeliverySettings.FromConfig(config));
        Assert.Contains("router.queue.retry-schedule: \"soon\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("router.delivery.tls-policy { \"typo.test\" = required }", "router.delivery.tls-policy \"typo.test\"")]
    [InlineData("router.delivery.tls-policy { \"secure.test\" = secure }", "router.delivery.tls-policy \"secure.test\"")]
    [InlineData("router.delivery.starttls = encrypt", "router.delivery.starttls")]
    public void A_TLS_policy_that_is_none_of_the_three_is_named(string hocon, string setting)
    {
        // A misspelt per-domain "required" once meant plaintext and any certificate under a global "require".
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(Shipped);
        var error = Assert.Throws<ConfigurationException>(() => DeliverySettings.FromConfig(config));
        Assert.Contains(setting + " must be off, opportunistic or require", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// README: a value out of its range (a limit of 0 that would refuse everything, a negative
    /// count) stops the start naming the setting. These were taken silently: max-failures = 0
    /// refused every AUTH (the right password too) with 421, the delivery counts were raised to 1,
    /// snapshot-every to 10 and retry-jitter clamped into 0..0.5 without a word.
    /// </summary>
    [Theory]
    [InlineData("router.auth.max-failures = 0", "router.auth.max-failures must be at least 1, not 0")]
    [InlineData("router.auth.failure-delay-after = -1", "router.auth.failure-delay-after must be at least 0, not -1")]
    [InlineData("router.auth.failure-window = 0s", "router.auth.failure-window must be a duration above zero such as 30s, not 0s")]
    [InlineData("router.delivery.max-connections = 0", "router.delivery.max-connections must be at least 1, not 0")]
    [InlineData("router.delivery.max-connections-per-destination = -5", "router.delivery.max-connections-per-destination must be at least 1, not -5")]
    [InlineData("router.delivery.initial-connections-per-destination = 0", "router.delivery.initial-connections-per-destination must be at least 1, not 0")]
    [InlineData("router.delivery.max-recipients-per-transaction = 0", "router.delivery.max-recipients-per-transaction must be at least 1, not 0")]
    [InlineData("router.delivery.max-messages-per-connection = 0", "router.delivery.max-messages-per-connection must be at least 1, not 0")]
    [InlineData("router.delivery.rate-per-domain = -2", "router.delivery.rate-per-domain must be at least 0, not -2")]
    [InlineData("router.queue.snapshot-every = 5", "router.queue.snapshot-every must be at least 10, not 5")]
    [InlineData("router.queue.max-persists-in-flight = 0", "router.queue.max-persists-in-flight must be at least 1, not 0")]
    [InlineData("router.queue.retry-jitter = 0.6", "router.queue.retry-jitter must be from 0 to 0.5, not 0.6")]
    [InlineData("router.queue.retry-jitter = -0.1", "router.queue.retry-jitter must be from 0 to 0.5, not -0.1")]
    public void A_count_or_fraction_out_of_its_range_stops_the_start_naming_the_setting(string hocon, string expected)
    {
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(Shipped);
        var error = Assert.Throws<ConfigurationException>(() =>
        {
            RouterSettings.FromConfig(config, _ => "/srv/router");
            DeliverySettings.FromConfig(config);
        });
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void The_lowest_and_highest_values_in_range_are_taken_as_written()
    {
        var config = ConfigurationFactory.ParseString("""
            router {
              auth { max-failures = 1, failure-delay-after = 0 }
              delivery { max-connections = 1, max-connections-per-destination = 1, initial-connections-per-destination = 1, rate-per-domain = 0 }
              queue { snapshot-every = 10, max-persists-in-flight = 1, retry-jitter = 0.5 }
            }
            """).WithFallback(Shipped);

        var security = RouterSettings.FromConfig(config, _ => "/srv/router").Security;
        var delivery = DeliverySettings.FromConfig(config);

        Assert.Equal((1, 0), (security.AuthMaxFailures, security.AuthFailureDelayAfter));
        Assert.Equal((1, 1, 1, 0.0), (delivery.MaxConnections, delivery.MaxConnectionsPerDestination, delivery.InitialConnectionsPerDestination, delivery.RatePerDomain));
        Assert.Equal((10, 1, 0.5), (delivery.SnapshotEvery, delivery.MaxPersistsInFlight, delivery.RetryJitter));
    }

    [Fact]
    public void Maps_keyed_by_domains_addresses_or_logins_take_unquoted_dotted_keys_as_the_key()
    {
        // HOCON reads example.test = x as example { test = x }.
        var config = ConfigurationFactory.ParseString("""
            router {
              catch-all { example.test = "demo@example.test" }
              aliases { "sales@example.test" = "demo@example.test" }
              relay.transport { remote.test = "127.0.0.1:3326" }
              delivery.tls-policy { remote.test = require }
              submission.sender-login-maps { john.doe = ["john@example.test"] }
              dkim { example.test { selector = "s1", key = "/keys/example.pem" } }
            }
            """).WithFallback(Shipped);

        var settings = RouterSettings.FromConfig(config, _ => "/srv/router");
        var delivery = DeliverySettings.FromConfig(config);

        Assert.Equal("demo@example.test", settings.CatchAll["example.test"]);
        Assert.Equal(["demo@example.test"], settings.Aliases["sales@example.test"]);
        Assert.Equal("127.0.0.1:3326", delivery.Transport["remote.test"]);
        Assert.Equal("require", delivery.TlsPolicyFor("remote.test"));
        Assert.Equal(["john@example.test"], settings.Security.SenderLoginMaps["john.doe"]);
        Assert.Equal(new DkimDomainSettings("s1", "/keys/example.pem"), settings.Security.Dkim["example.test"]);
    }

    [Fact]
    public void TLS_policies_are_read_in_any_case()
    {
        var config = ConfigurationFactory.ParseString("router.delivery { starttls = Require, tls-policy { \"Legacy.test\" = OFF } }").WithFallback(Shipped);

        var delivery = DeliverySettings.FromConfig(config);

        Assert.Equal("require", delivery.StartTls);
        Assert.Equal("off", delivery.TlsPolicyFor("legacy.test"));
        Assert.Equal("require", delivery.TlsPolicyFor("other.test"));
    }

    /// <summary>A number, a duration or size (a number and a unit), or on/off.</summary>
    [GeneratedRegex(@"^(\d+(\.\d+)?[a-zA-Z]*|on|off|true|false)$")]
    private static partial Regex TypedValue();

    [Fact]
    public void A_name_that_is_no_setting_is_reported_and_the_operators_own_map_entries_are_not()
    {
        var overrides = ConfigurationFactory.ParseString("""
            router {
              limits.max-mesage-size = 1MiB
              limits.max-recipients = 10
              aliases { "bob@example.test" = ["alice@example.test"] }
              relay.transport { "remote.test" = "127.0.0.1:2600", ".sub.test" = "127.0.0.1:2601" }
              dkim { "example.test" { selector = "s1", key = "k.pem" } }
              delivery.tls-policy { "remote.test" = "require" }
              catch-all { "example.test" = "demo@example.test" }
              submission.sender-login-maps { alice = ["@example.test"] }
              queue { retry-schedule = [1m], warn-afer = 1h }
              smtp.endpoints = ["127.0.0.1:25"]
              limits { }
            }
            akka.loglevel = DEBUG
            """);
        Assert.Equal(["router.limits.max-mesage-size", "router.queue.warn-afer"], SettingNames.Unknown(Shipped, overrides).Order());
    }

    [Fact]
    public void Every_router_setting_is_in_the_README_configuration_reference()
    {
        var hocon = File.ReadAllText(Path.Combine(Root, "config", "akka.hocon"));
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var config = ConfigurationFactory.ParseString(hocon).GetConfig("router");
        var missing = SettingNames.Leaves(config.Root, "router")
            .Where(key => !readme.Contains($"`{key}`", StringComparison.Ordinal))
            .ToArray();
        Assert.True(missing.Length == 0, "README lacks: " + string.Join(", ", missing));
    }

    /// <summary>The checkout this file was compiled from (test output may live anywhere).</summary>
    private static string FindRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        for (var dir = new FileInfo(source).Directory; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Router.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Router.sln not found above " + source);
    }
}
