using Akka.Configuration;
using Router.Actors.Configuration;
using Router.Actors.Delivery;
using Router.Actors.Security;

namespace Router.Actors.Tests.Configuration;

/// <summary>
/// router.relay.auth as the start, a SIGHUP and `router check` read it (<see cref="NodeConfiguration.Read"/>):
/// keys written as routes write hosts, the password from its own file and never in an error, and
/// every entry that could not be used refused, naming it.
/// </summary>
public sealed class RelayAuthTests : IDisposable
{
    private const string Password = "pr0vider-S3cret";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("router-relay-auth-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string PasswordFile(string content = Password + "\n", string name = "relay-password")
    {
        var path = Path.Combine(_folder.FullName, name);
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>The shipped configuration with <paramref name="hocon"/> over it, read as a start reads it.</summary>
    private NodeConfiguration Read(string hocon)
    {
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(Shipped);
        return NodeConfiguration.Read(config, RouterSettings.FromConfig(config, _ => _folder.FullName));
    }

    private ConfigurationException Refused(string hocon) => Assert.Throws<ConfigurationException>(() => Read(hocon));

    [Fact]
    public void A_reload_replaces_the_credentials_in_use_even_when_the_start_had_none()
    {
        var inUse = Read("router.relay.auth { }").RelayCredentials;
        var reloaded = Read($$"""router.relay.auth { "smtp.provider.test:587" { user = "router@example.com", password-file = "{{PasswordFile()}}" } }""").RelayCredentials;

        inUse.Replace(reloaded);

        Assert.Equal(Password, inUse.For("smtp.provider.test", 587)?.Password);
        Assert.Null(RelayCredentials.None.For("smtp.provider.test", 587));
        Assert.Throws<InvalidOperationException>(() => RelayCredentials.None.Replace(reloaded));
    }

    [Theory]
    [InlineData("smtp.provider.test:587", "smtp.provider.test:587")]
    [InlineData("SMTP.Provider.Test.:587", "smtp.provider.test:587")]
    [InlineData("[smtp.provider.test]:587", "smtp.provider.test:587")]
    [InlineData("smtp.provider.test", "smtp.provider.test:25")]
    [InlineData("127.0.0.1:5870", "127.0.0.1:5870")]
    [InlineData("[2001:DB8::1]:587", "[2001:db8::1]:587")]
    [InlineData("[0:0:0::1]:5871", "[::1]:5871")]
    [InlineData("[2001:db8:0:0:0:0:0:1]:587", "[2001:db8::1]:587")]
    public void A_next_hop_key_is_written_as_a_route_writes_its_host(string key, string expected) =>
        Assert.Equal(expected, NextHop.ParseKey(key, 25));

    [Theory]
    [InlineData("*")]
    [InlineData(".provider.test:587")]
    [InlineData("smtp.provider.test:99999")]
    [InlineData("smtp.provider.test:submission")]
    [InlineData("smtp provider:587")]
    [InlineData(":587")]
    public void A_malformed_next_hop_key_is_refused(string key) =>
        Assert.Throws<FormatException>(() => NextHop.ParseKey(key, 25));

    [Fact]
    public void Credentials_are_found_by_the_host_and_port_a_connection_goes_to()
    {
        var file = PasswordFile();
        var configuration = Read($$"""
            router.relay.auth {
              "SMTP.provider.test:587" { user = "router@example.test", password-file = "{{file}}" }
              relay.other.test { user = "other", password-file = "{{file}}" }
            }
            """);

        var credentials = configuration.RelayCredentials;
        var login = credentials.For("smtp.provider.test.", 587);
        Assert.NotNull(login);
        Assert.Equal("router@example.test", login.User);
        Assert.Equal(Password, login.Password);
        Assert.Null(credentials.For("smtp.provider.test", 25));
        Assert.Null(credentials.For("mx.elsewhere.test", 587));
        // An unquoted dotted key is the host, on delivery.mx-port.
        Assert.Equal("other", credentials.For("relay.other.test", 25)?.User);
        Assert.DoesNotContain(Password, login.ToString(), StringComparison.Ordinal);
        Assert.Empty(configuration.Warnings);
    }

    [Fact]
    public void A_relative_password_file_is_taken_from_the_configurations_folder()
    {
        PasswordFile(name: "relative-password");

        var configuration = Read("""router.relay.auth { "smtp.provider.test:587" { user = "u", password-file = "relative-password" } }""");

        Assert.Equal(Password, configuration.RelayCredentials.For("smtp.provider.test", 587)?.Password);
    }

    [Theory]
    [InlineData("""router.relay.auth { "*" { user = "u", password-file = "p" } }""", "router.relay.auth \"*\": '*' is not a next hop of the form host:port")]
    [InlineData("""router.relay.auth { "smtp.provider.test:0" { user = "u", password-file = "p" } }""", "router.relay.auth \"smtp.provider.test:0\": '")]
    [InlineData("""router.relay.auth { "smtp.provider.test:587" { user = "u", password = "inline" } }""", "router.relay.auth \"smtp.provider.test:587\": a password is never written in the configuration")]
    [InlineData("""router.relay.auth { "smtp.provider.test:587" { user = "u", pasword-file = "p" } }""", "router.relay.auth \"smtp.provider.test:587\": \"pasword-file\" is not a setting of a next hop")]
    [InlineData("""router.relay.auth { "smtp.provider.test:587" { password-file = "p" } }""", "router.relay.auth \"smtp.provider.test:587\" needs both user and password-file")]
    [InlineData("""router.relay.auth { "smtp.provider.test:587" = "u:p" }""", "router.relay.auth \"smtp.provider.test:587\" must be { user = ..., password-file = ... }")]
    [InlineData("router.relay.auth {\n \"a.test:587\" { user = \"u\", password-file = \"p\" }\n \"A.test.:587\" { user = \"v\", password-file = \"p\" }\n}", "next hop a.test:587 is given more than once")]
    public void An_entry_that_could_not_be_used_is_refused_naming_it(string hocon, string expected)
    {
        PasswordFile(name: "p");

        var error = Refused(hocon);

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("inline", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_password_file_is_refused_naming_the_entry_and_the_file()
    {
        var missing = Path.Combine(_folder.FullName, "nosuch");

        var error = Refused($$"""router.relay.auth { "smtp.provider.test:587" { user = "u", password-file = "{{missing}}" } }""");

        Assert.Equal($"router.relay.auth \"smtp.provider.test:587\": password-file {missing} does not exist", error.Message);
    }

    [Fact]
    public void A_password_file_that_cannot_be_read_is_refused()
    {
        // A folder: as unreadable as a file of another owner, and root reads those.
        var error = Refused($$"""router.relay.auth { "smtp.provider.test:587" { user = "u", password-file = "{{_folder.FullName}}" } }""");

        Assert.StartsWith($"router.relay.auth \"smtp.provider.test:587\": cannot read password-file {_folder.FullName}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData(Password + "\nsecond line\n")]
    public void A_password_file_that_is_not_one_line_is_refused_without_quoting_it(string content)
    {
        var file = PasswordFile(content);

        var error = Refused($$"""router.relay.auth { "smtp.provider.test:587" { user = "u", password-file = "{{file}}" } }""");

        Assert.StartsWith($"router.relay.auth \"smtp.provider.test:587\": password-file {file} ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("second line", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_file_other_users_may_read_is_warned_of()
    {
        var file = PasswordFile();
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var configuration = Read($$"""router.relay.auth { "smtp.provider.test:587" { user = "u", password-file = "{{file}}" } }""");

        Assert.Equal($"router.relay.auth \"smtp.provider.test:587\": password-file {file} is readable by other users (chmod 600 it)", Assert.Single(configuration.Warnings));
    }

    [Fact]
    public void A_TLS_policy_off_for_a_next_hop_with_credentials_is_refused()
    {
        var file = PasswordFile();

        var error = Refused($$"""
            router.relay.auth { "smtp.provider.test:587" { user = "u", password-file = "{{file}}" } }
            router.delivery.tls-policy { "smtp.provider.test:587" = off }
            """);

        Assert.Contains("credentials are only ever sent under TLS", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_that_authenticates_requires_a_verified_certificate_unless_its_next_hop_or_domain_says_otherwise()
    {
        var config = ConfigurationFactory.ParseString("""
            router.delivery {
              starttls = opportunistic
              tls-policy { "[SMTP.Provider.test]:587" = opportunistic, "legacy.test" = off, "strict.test" = require }
            }
            """).WithFallback(Shipped);
        var delivery = DeliverySettings.FromConfig(config);

        Assert.Equal("require", delivery.TlsPolicyFor("remote.test", "smarthost.test", 587, authenticating: true));
        Assert.Equal("opportunistic", delivery.TlsPolicyFor("remote.test", "smarthost.test", 587, authenticating: false));
        // The next hop's entry goes before the domain's.
        Assert.Equal("opportunistic", delivery.TlsPolicyFor("strict.test", "smtp.provider.test.", 587, authenticating: true));
        Assert.Equal("off", delivery.TlsPolicyFor("legacy.test", "smarthost.test", 587, authenticating: true));
        Assert.Equal("require", delivery.TlsPolicyFor("strict.test", "smtp.provider.test", 25, authenticating: false));
    }

    [Fact]
    public void A_malformed_next_hop_in_the_TLS_policy_is_named()
    {
        var config = ConfigurationFactory.ParseString("""router.delivery.tls-policy { "smtp.provider.test:smtp" = require }""").WithFallback(Shipped);

        var error = Assert.Throws<ConfigurationException>(() => DeliverySettings.FromConfig(config));

        Assert.StartsWith("router.delivery.tls-policy \"smtp.provider.test:smtp\": 'smtp.provider.test:smtp' is not a next hop", error.Message, StringComparison.Ordinal);
    }

    private static Config Shipped => ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(FindRoot(), "config", "akka.hocon")));

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
