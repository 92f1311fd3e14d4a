using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Router.LoadTest.Generator;

namespace Router.EndToEnd.Tests.LoadTest;

/// <summary>The `loadtest` executable as a script would use it: JSON output, exit codes, the sink's stats file on SIGTERM.</summary>
public sealed class LoadTestCliTests
{
    private readonly CancellationTokenSource _backstop = new(TimeSpan.FromSeconds(90));

    private CancellationToken Ct => _backstop.Token;

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "loadtest.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Run_with_json_prints_one_object_with_the_counts()
    {
        await using var sink = await SinkFixture.StartSinkAsync();
        var (exit, stdout, stderr) = await RunAsync("run", "--target", sink.EndPoint.ToString(), "-c", "2", "-n", "50", "--size", "1k-2k", "--json");

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(50, root.GetProperty("sent").GetInt64());
        Assert.Equal(50, root.GetProperty("accepted").GetInt64());
        foreach (var field in new[] { "tempFailed", "permFailed", "connectionErrors", "elapsedSeconds", "messagesPerSecond", "megabytesPerSecond", "latencyP50Ms", "latencyP90Ms", "latencyP99Ms", "latencyMaxMs" })
            Assert.True(root.TryGetProperty(field, out _), field);
        Assert.Equal(50, sink.Stats.Messages);
    }

    [Fact]
    public async Task Run_against_a_dead_target_exits_non_zero_with_a_clear_message()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var dead = ((IPEndPoint)listener.LocalEndpoint).ToString();
        listener.Stop();

        var (exit, stdout, stderr) = await RunAsync("run", "--target", dead, "-n", "5", "--quiet");

        Assert.Equal(2, exit);
        Assert.Contains($"loadtest: {dead} does not answer", stderr);
        Assert.DoesNotContain("   at ", stderr + stdout);
    }

    [Fact]
    public async Task Run_with_a_bad_size_is_a_usage_error()
    {
        var (exit, _, stderr) = await RunAsync("run", "--target", "127.0.0.1:25", "--size", "10-5");
        Assert.Equal(1, exit);
        Assert.Contains("maximum below its minimum", stderr);
    }

    [Theory]
    [InlineData("run", "--target", "127.0.0.1:25", "--duration", "NaN")]
    [InlineData("run", "--target", "127.0.0.1:25", "--timeout", "Infinity")]
    [InlineData("run", "--target", "127.0.0.1:25", "--duration", "1e20")]
    [InlineData("sink", "--listen", "127.0.0.1:0", "--duration", "2000h")]
    [InlineData("sink", "--listen", "127.0.0.1:0", "--data-delay", "1e30")]
    public async Task Durations_that_are_not_numbers_or_too_long_are_usage_errors(params string[] args)
    {
        var (exit, stdout, stderr) = await RunAsync(args);

        Assert.Equal(1, exit);
        Assert.Contains($"loadtest: '{args[^1]}' is not a duration", stderr);
        Assert.DoesNotContain("   at ", stderr + stdout);
    }

    [Fact]
    public async Task Sink_writes_its_final_stats_file_on_SIGTERM()
    {
        var stats = Path.Combine(Path.GetTempPath(), $"sink-cli-{Guid.NewGuid():N}.json");
        using var sink = Start("sink", "--listen", "127.0.0.1:0", "--stats-file", stats, "--tempfail", "0.5");
        try
        {
            var first = await sink.StandardOutput.ReadLineAsync(Ct);
            Assert.StartsWith("sink listening on ", first);
            var endPoint = IPEndPoint.Parse(first!["sink listening on ".Length..]);

            var report = await new LoadGenerator(new LoadGeneratorOptions { Targets = [endPoint], Messages = 40, Connections = 2 }).RunAsync(Ct);
            Assert.Equal((20, 20), (report.Accepted, report.TempFailed));

            using (var kill = Process.Start("kill", ["-TERM", sink.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Ct);
            }
            var summary = await sink.StandardOutput.ReadToEndAsync(Ct);
            await sink.WaitForExitAsync(Ct);

            Assert.Equal(0, sink.ExitCode);
            Assert.Contains("messages accepted", summary);
            using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(stats, Ct));
            Assert.Equal(20, json.RootElement.GetProperty("messages").GetInt64());
            Assert.Equal(20, json.RootElement.GetProperty("recipientsTempFailed").GetInt64());
        }
        finally
        {
            if (!sink.HasExited) sink.Kill();
            File.Delete(stats);
        }
    }
}
