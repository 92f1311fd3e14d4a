using Router.Actors.Security;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// The self-signed certificate made on first start (and reused after a restart), and the
/// <c>router user</c> commands that edit the users file.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CertificateAndUserCliTests
{
    [Fact]
    public async Task Router_without_a_certificate_generates_one_once_and_reuses_it()
    {
        using var router = await RouterProcess.StartAsync(new RouterOptions());
        await router.WaitForOutputAsync("generated a self-signed certificate for mx.router.test", TimeSpan.FromSeconds(10));
        var certPath = Path.Combine(router.DataDir, "tls", "cert.pem");
        var first = await File.ReadAllTextAsync(certPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(router.DataDir, "tls", "key.pem")));

        var (exit, output) = await SecureClients.RunAsync("openssl", "QUIT\n", "s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{router.Port}", "-brief");
        Assert.True(exit == 0, output);
        Assert.Contains("CN = mx.router.test", output, StringComparison.Ordinal);

        await router.RestartAsync();
        await router.WaitForOutputAsync("TLS: certificate CN=mx.router.test", TimeSpan.FromSeconds(10));
        Assert.Equal(first, await File.ReadAllTextAsync(certPath));
        Assert.Single(router.Output.Split('\n'), l => l.Contains("generated a self-signed certificate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task User_add_list_and_remove_edit_the_users_file()
    {
        var folder = Path.Combine(Path.GetTempPath(), "router-users-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        try
        {
            var config = Path.Combine(folder, "router.hocon");
            await File.WriteAllTextAsync(config, "router { data-dir = \"data\" }\n");
            var router = Path.Combine(AppContext.BaseDirectory, "router.dll");

            var (exit, output) = await SecureClients.RunAsync("dotnet", "Pa55-word!\n", router, "user", "add", "Dave@Example.test", "--password-stdin", "--config", config);
            Assert.True(exit == 0, output);
            var usersFile = Path.Combine(folder, "data", "users");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(usersFile));
            var line = Assert.Single(File.ReadAllLines(usersFile), l => !l.StartsWith('#'));
            Assert.Matches("^dave@example\\.test:pbkdf2-sha256:210000:[A-Za-z0-9+/=]{24}:[A-Za-z0-9+/=]{44}$", line);
            Assert.DoesNotContain("Pa55-word!", await File.ReadAllTextAsync(usersFile), StringComparison.Ordinal);
            Assert.True(new UserStore(usersFile).Verify("dave@example.test", "Pa55-word!"));

            (exit, output) = await SecureClients.RunAsync("dotnet", null, router, "user", "list", "--config", config);
            Assert.True(exit == 0, output);
            Assert.Equal("dave@example.test", output.Trim());

            (exit, output) = await SecureClients.RunAsync("dotnet", null, router, "user", "remove", "dave@example.test", "--config", config);
            Assert.True(exit == 0, output);
            Assert.Empty(new UserStore(usersFile).List());

            (exit, _) = await SecureClients.RunAsync("dotnet", null, router, "user", "remove", "dave@example.test", "--config", config);
            Assert.Equal(1, exit);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
