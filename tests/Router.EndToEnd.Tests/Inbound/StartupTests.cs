using Router.EndToEnd.Tests.Infrastructure;
using Router.EndToEnd.Tests.Security;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// A start that cannot complete ends with one line saying why and exit code 2, not a stack trace;
/// a SIGTERM while the node starts stops it cleanly (exit 0), as one after the start does. Each
/// router here waits for a seed node or a database on a loopback port where nothing listens.
/// </summary>
public sealed class StartupTests
{
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Unquoted_dotted_domains_as_keys_are_taken_by_the_running_router()
    {
        // HOCON reads example.test = x as example { test = x }: this stopped the start with a stack trace.
        using var router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = """
                router.catch-all { example.test = "demo@example.test" }
                router.relay.transport { remote.test = "127.0.0.1:3326" }
                """,
        });

        await using var c = await router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RCPT TO:<nobody@example.test>", "250");
    }

    [Fact]
    public async Task A_node_whose_seed_nodes_never_answer_gives_up_after_the_join_timeout_with_exit_code_2_and_says_why()
    {
        var seed = SeedNowhere();
        using var router = await RouterProcess.SpawnAsync(new RouterOptions { ExtraHocon = ClusterHocon(seed, "3s") });

        Assert.Equal(2, await router.WaitForExitAsync(ExitDeadline));
        Assert.Contains($"router: not a cluster member after 3 s (router.cluster-join-timeout): could not join its seed nodes {seed}", router.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_while_the_node_waits_to_join_its_cluster_stops_it_with_exit_code_0()
    {
        using var router = await RouterProcess.SpawnAsync(new RouterOptions { ExtraHocon = ClusterHocon(SeedNowhere(), "60s") });
        // Akka's join attempt has met the closed port: the start is under way and cannot complete.
        await router.WaitForOutputAsync("Tried to associate with unreachable remote address", ExitDeadline);

        await router.SignalTerminateAsync();

        Assert.Equal(0, await router.WaitForExitAsync(ExitDeadline));
        Assert.Contains("router: stopped while starting", router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cluster_node_whose_database_refuses_connections_exits_with_code_2_naming_the_setting()
    {
        var port = TestPorts.Next();
        using var router = await RouterProcess.SpawnAsync(new RouterOptions
        {
            ExtraHocon = $"""
                router.queue.store = "postgresql"
                router.queue.connection-string = "Host=127.0.0.1;Port={port};Database=router;Username=postgres;Timeout=5"
                """,
        });

        Assert.Equal(2, await router.WaitForExitAsync(ExitDeadline));
        Assert.Contains($"router: the queue store (router.queue.connection-string): Failed to connect to 127.0.0.1:{port}", router.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_whose_key_belongs_to_another_certificate_exits_with_code_2_naming_the_setting()
    {
        var folder = Directory.CreateTempSubdirectory("router-start-");
        try
        {
            var (certificate, _) = SecurityMaterial.WriteServerCertificate(folder.FullName);
            var (_, otherKey) = SecurityMaterial.WriteServerCertificate(folder.CreateSubdirectory("other").FullName);
            using var router = await RouterProcess.SpawnAsync(new RouterOptions { ExtraHocon = $"router.tls {{ certificate = \"{certificate}\", key = \"{otherKey}\" }}" });

            Assert.Equal(2, await router.WaitForExitAsync(ExitDeadline));
            Assert.Contains("router: router.tls: cannot load the certificate or key", router.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", router.Output, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_misspelt_setting_is_reported_once_and_the_router_starts_on_the_rest()
    {
        using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = "router.limits.max-mesage-size = 1MiB" });

        var warnings = router.Output.Split('\n').Where(line => line.Contains("is not a setting", StringComparison.Ordinal)).ToArray();
        Assert.StartsWith("router: warning: router.limits.max-mesage-size (in ", Assert.Single(warnings), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_router_on_the_same_data_dir_exits_with_code_2_before_it_touches_the_maildir()
    {
        using var running = await RouterProcess.StartAsync();
        // A message as the running router's writer holds it between its flush and its link into
        // new/: the second process's crash recovery linked such files under the running one, which
        // then failed its own link ("File exists") and answered 451 for a message already delivered.
        var folder = Path.Combine(running.MaildirRoot, "example.test", "demo");
        Directory.CreateDirectory(Path.Combine(folder, "new"));
        var content = "Subject: in flight\r\n\r\nbody\r\n"u8.ToArray();
        var inFlight = Path.Combine(Directory.CreateDirectory(Path.Combine(folder, "tmp")).FullName,
            $"1796230068.M1P1Q1.mx.example.test.crc32-{System.IO.Hashing.Crc32.HashToUInt32(content):x8}");
        await File.WriteAllBytesAsync(inFlight, content);
        var secondConfig = Path.Combine(running.Folder, "second.hocon");
        await File.WriteAllTextAsync(secondConfig, running.BuildHocon().Replace($"127.0.0.1:{running.Port}", $"127.0.0.1:{TestPorts.Next()}", StringComparison.Ordinal));

        var (exit, _, stderr) = await RouterProcess.RunCliAsync(secondConfig, "run");

        Assert.Equal(2, exit);
        Assert.Contains("in use by another router process", stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(inFlight), "the running router's file in tmp/ was taken");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(folder, "new")));
    }

    /// <summary>An Akka address on a loopback port where nothing listens.</summary>
    private static string SeedNowhere() => $"akka.tcp://router@127.0.0.1:{TestPorts.Next()}";

    private static string ClusterHocon(string seed, string joinTimeout) => $"""
        router.cluster-join-timeout = {joinTimeout}
        akka.remote.dot-netty.tcp.port = {TestPorts.Next()}
        akka.cluster.seed-nodes = ["{seed}"]
        """;
}
