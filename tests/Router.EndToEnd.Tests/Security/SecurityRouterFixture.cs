using System.Net;
using System.Security.Cryptography;
using Router.Actors.Security;
using Router.EndToEnd.Tests.Infrastructure;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// A router with the MTA port, a submission port (STARTTLS) and an implicit-TLS port, a configured
/// certificate (CN=mail.security.test), three users, a DKIM key for example.test, and a capturing
/// sink that remote.test is routed to. Only 127.0.0.1 is trusted: tests bind to other loopback
/// addresses to be untrusted clients, and each AUTH-failure test uses an address of its own.
/// </summary>
public sealed class SecurityRouterFixture : IAsyncLifetime
{
    public const string AlicePassword = "alice-Secret-1";
    public const string BobPassword = "bob-Secret-2";
    public const int MaxAuthFailures = 3;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "router-sec-" + Guid.NewGuid().ToString("N")[..12]);

    public RouterProcess Router { get; private set; } = null!;

    public SmtpSink Sink { get; private set; } = null!;

    public int SubmissionPort { get; } = TestPorts.Next();

    public int TlsPort { get; } = TestPorts.Next();

    public RSA DkimKey { get; private set; } = null!;

    public static IPAddress Untrusted { get; } = IPAddress.Parse("127.0.0.2");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var (certificate, key) = SecurityMaterial.WriteServerCertificate(_folder);
        var (dkimPath, dkimKey) = SecurityMaterial.WriteDkimKey(_folder);
        DkimKey = dkimKey;
        var usersFile = Path.Combine(_folder, "users");
        var users = new UserStore(usersFile);
        // Few iterations keep the tests fast; the format and the check are the production ones.
        users.Set("alice@example.test", AlicePassword, iterations: 1000);
        users.Set("bob", BobPassword, iterations: 1000);

        Sink = new SmtpSink(new SinkOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0), CaptureMessages = true, HostName = "sink.remote.test" });
        await Sink.StartAsync();

        Router = await RouterProcess.StartAsync(new RouterOptions
        {
            TrustedNetworks = ["127.0.0.1/32"],
            ExtraHocon = $$"""
                router {
                  smtp.submission-endpoints = ["127.0.0.1:{{SubmissionPort}}"]
                  smtp.tls-endpoints = ["127.0.0.1:{{TlsPort}}"]
                  tls { certificate = "{{certificate}}", key = "{{key}}" }
                  auth { users-file = "{{usersFile}}", failure-delay-after = 1, failure-delay = 50ms, max-failures = {{MaxAuthFailures}} }
                  submission.sender-login-maps { bob = ["bob@example.test", "@bob.test"] }
                  dkim { "example.test" { selector = "s1", key = "{{dkimPath}}" } }
                  relay.transport { "remote.test" = "{{Sink.EndPoint}}" }
                  dns.servers = ["127.0.0.1:{{TestPorts.Next()}}"]
                  delivery { starttls = "off", connect-timeout = 2s }
                }
                """,
        });
    }

    public async Task DisposeAsync()
    {
        Router?.Dispose();
        if (Sink is not null) await Sink.DisposeAsync();
        DkimKey?.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SecurityRouterCollection : ICollectionFixture<SecurityRouterFixture>
{
    public const string Name = "security router";
}
