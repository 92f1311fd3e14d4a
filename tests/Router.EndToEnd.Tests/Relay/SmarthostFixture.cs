using System.Net;
using Router.Actors.Security;
using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Security;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// A provider's smarthost for the smarthost tests: a router ("smtp.provider.test") whose submission
/// port wants STARTTLS, with a certificate the tests' CA issued for 127.0.0.1, and then AUTH of the
/// users below before MAIL (RFC 6409), and which delivers example.test into its Maildir. No client
/// address is trusted. <see cref="CaFile"/> is what a router that trusts the CA gets as SSL_CERT_FILE.
/// </summary>
public sealed class SmarthostFixture : IAsyncLifetime
{
    public const string Hostname = "smtp.provider.test";
    public const string User = "router@example.test";
    public const string Password = "Sm4rthost-Pass";

    /// <summary>A second account, for the wrong-password test: failures count per user name at the smarthost, so they never lock <see cref="User"/>.</summary>
    public const string OtherUser = "other@example.test";
    public const string OtherPassword = "0ther-Pass";

    /// <summary>A third account, for the reload test, whose stale password fails a few times before the fix.</summary>
    public const string ReloadUser = "reload@example.test";
    public const string ReloadPassword = "R3load-Pass";

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "router-smarthost-" + Guid.NewGuid().ToString("N")[..12]);

    public RouterProcess Router { get; private set; } = null!;

    public int SubmissionPort { get; } = TestPorts.Next();

    public string CaFile { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var (caFile, authority) = SecurityMaterial.WriteCertificateAuthority(_folder);
        CaFile = caFile;
        string certificate, key;
        using (authority) (certificate, key) = SecurityMaterial.WriteServerCertificate(_folder, authority, Hostname, IPAddress.Loopback);
        var usersFile = Path.Combine(_folder, "users");
        var users = new UserStore(usersFile);
        // Few iterations keep the tests fast; the format and the check are the production ones.
        users.Set(User, Password, iterations: 1000);
        users.Set(OtherUser, OtherPassword, iterations: 1000);
        users.Set(ReloadUser, ReloadPassword, iterations: 1000);

        Router = await RouterProcess.StartAsync(new RouterOptions
        {
            Hostname = Hostname,
            TrustedNetworks = ["192.0.2.0/24"],
            ExtraHocon = $$"""
                router {
                  smtp.submission-endpoints = ["127.0.0.1:{{SubmissionPort}}"]
                  tls { certificate = "{{certificate}}", key = "{{key}}" }
                  auth.users-file = "{{usersFile}}"
                  submission.sender-login-maps { "{{User}}" = ["@a.test"], "{{OtherUser}}" = ["@a.test"], "{{ReloadUser}}" = ["@a.test"] }
                  dns.servers = ["127.0.0.1:{{TestPorts.Next()}}"]
                }
                """,
        });
    }

    public Task DisposeAsync()
    {
        Router?.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }
}
