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

            // A name that cannot be a user: one line saying why, without .NET's "(Parameter 'user')".
            (exit, output) = await SecureClients.RunAsync("dotnet", "Pa55-word!\n", router, "user", "add", "bad:name", "--password-stdin", "--config", config);
            Assert.Equal(2, exit);
            Assert.Equal("router: 'bad:name' is not a valid user name (no ':', '#', spaces or control characters; 1 to 256 characters)", output.Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task User_add_remove_and_a_new_password_keep_the_operators_other_lines_verbatim()
    {
        var folder = Directory.CreateTempSubdirectory("router-users-");
        try
        {
            var config = Path.Combine(folder.FullName, "router.hocon");
            var usersFile = Path.Combine(folder.FullName, "users");
            await File.WriteAllTextAsync(config, $"router {{ data-dir = \"data\", auth.users-file = \"{usersFile}\" }}\n");
            string[] original =
            [
                "# mx1 users: ask the postmaster before editing",
                "alice:" + PasswordHash.Create("alice-Old-1", iterations: 1000),
                "",
                "  # contractors, until March",
                "erin:s3cret-Passw0rd",
                "frank@example.test pbkdf2-sha256 typo",
            ];
            await File.WriteAllLinesAsync(usersFile, original);

            await UserAsync(config, "Bob-Pa55!\n", "add", "bob", "--password-stdin");
            var added = await File.ReadAllLinesAsync(usersFile);
            Assert.Equal(original, added[..^1]);
            Assert.StartsWith("bob:pbkdf2-sha256:", added[^1], StringComparison.Ordinal);

            await UserAsync(config, "alice-New-2\n", "add", "alice", "--password-stdin");
            var changed = await File.ReadAllLinesAsync(usersFile);
            Assert.Equal([original[0], .. original[2..], added[^1]], [changed[0], .. changed[2..]]);
            Assert.True(new UserStore(usersFile).Verify("alice", "alice-New-2"));

            await UserAsync(config, null, "remove", "bob");
            Assert.Equal(changed[..^1], await File.ReadAllLinesAsync(usersFile));

            // The lines that are no user are still warned of by number, never quoted.
            var (exit, stdout, stderr) = await RouterProcess.RunCliAsync(config, "check");
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains($"router: warning: {usersFile} line 5 is not name:pbkdf2-sha256", stderr, StringComparison.Ordinal);
            Assert.Contains($"router: warning: {usersFile} line 6 is not name:pbkdf2-sha256", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cret", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("typo", stderr, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task User_add_replaces_that_users_own_line_that_is_no_user_where_it_was()
    {
        var folder = Directory.CreateTempSubdirectory("router-users-");
        try
        {
            var config = Path.Combine(folder.FullName, "router.hocon");
            var usersFile = Path.Combine(folder.FullName, "users");
            await File.WriteAllTextAsync(config, $"router {{ data-dir = \"data\", auth.users-file = \"{usersFile}\" }}\n");
            await File.WriteAllLinesAsync(usersFile, ["# users", "Erin:s3cret-Passw0rd", "# end"]);

            await UserAsync(config, "Erin-Pa55!\n", "add", "erin", "--password-stdin");

            var lines = await File.ReadAllLinesAsync(usersFile);
            Assert.Equal(3, lines.Length);
            Assert.Equal(("# users", "# end"), (lines[0], lines[2]));
            Assert.StartsWith("erin:pbkdf2-sha256:", lines[1], StringComparison.Ordinal);
            Assert.DoesNotContain("s3cret", await File.ReadAllTextAsync(usersFile), StringComparison.Ordinal);
            Assert.True(new UserStore(usersFile).Verify("erin", "Erin-Pa55!"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Runs `router user ARGS --config CONFIG` and expects exit code 0.</summary>
    private static async Task UserAsync(string config, string? stdin, params string[] args)
    {
        var (exit, output) = await SecureClients.RunAsync("dotnet", stdin, [Path.Combine(AppContext.BaseDirectory, "router.dll"), "user", .. args, "--config", config]);
        Assert.True(exit == 0, output);
    }
}
