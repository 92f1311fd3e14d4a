using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The real router (<c>dotnet router.dll --config FILE</c>) in a fresh temporary folder, on a free
/// loopback port, with its own data-dir. Start waits for the "listening" line and a 220 greeting;
/// stdout and stderr are kept for failure messages. Kill (SIGKILL), StopGracefullyAsync (SIGTERM)
/// and RestartAsync (same port, same data) let tests crash and stop it; Dispose always kills the
/// process it started, by PID, and removes the folder.
/// </summary>
public sealed class RouterProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly object _gate = new();
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];
    private Process? _process;
    private int _launchOffset;
    private TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RouterProcess(RouterOptions options, string folder, int port)
    {
        Options = options;
        Folder = folder;
        Port = port;
        DataDir = Path.Combine(folder, "data");
        ConfigPath = Path.Combine(folder, "router.hocon");
    }

    public RouterOptions Options { get; }

    /// <summary>The temporary folder holding the configuration and the data-dir.</summary>
    public string Folder { get; }

    public string ConfigPath { get; }

    public string DataDir { get; }

    public string MaildirRoot => Path.Combine(DataDir, "maildir");

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public int Pid => _process?.Id ?? throw new InvalidOperationException("the router is not running");

    public bool HasExited => _process is null || _process.HasExited;

    /// <summary>Everything the process(es) wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_gate) return _output.ToString();
        }
    }

    /// <summary>Writes the configuration, starts the router and waits until it greets.</summary>
    public static Task<RouterProcess> StartAsync(RouterOptions? options = null) => CreateAsync(options, r => r.LaunchAsync());

    /// <summary>Writes the configuration and starts the router without waiting for anything (for tests of its start).</summary>
    public static Task<RouterProcess> SpawnAsync(RouterOptions? options = null) => CreateAsync(options, r =>
    {
        r.Spawn();
        return Task.CompletedTask;
    });

    private static async Task<RouterProcess> CreateAsync(RouterOptions? options, Func<RouterProcess, Task> launch)
    {
        var folder = Path.Combine(Path.GetTempPath(), "router-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var router = new RouterProcess(options ?? new RouterOptions(), folder, TestPorts.Next());
        try
        {
            await File.WriteAllTextAsync(router.ConfigPath, router.BuildHocon());
            await launch(router);
        }
        catch
        {
            router.Dispose();
            throw;
        }
        return router;
    }

    /// <summary>The HOCON override file written for this router.</summary>
    public string BuildHocon()
    {
        var o = Options;
        var sb = new StringBuilder();
        sb.AppendLine("router {");
        sb.AppendLine($"  hostname = {Quote(o.Hostname)}");
        sb.AppendLine($"  data-dir = {Quote(DataDir)}");
        sb.AppendLine($"  smtp.endpoints = {List([$"127.0.0.1:{Port}", .. o.ExtraEndpoints])}");
        // Only the port above: fixed default ports (submission, admin HTTP) would collide between
        // routers running side by side. A test that wants them sets them in ExtraHocon.
        sb.AppendLine("  smtp.submission-endpoints = []");
        sb.AppendLine("  smtp.tls-endpoints = []");
        sb.AppendLine("  http.endpoint = \"\"");
        sb.AppendLine($"  local-domains = {List(o.LocalDomains)}");
        sb.AppendLine($"  mailboxes = {List(o.Mailboxes)}");
        sb.AppendLine($"  postmaster = {Quote(o.Postmaster)}");
        sb.AppendLine("  aliases {");
        foreach (var (key, targets) in o.Aliases) sb.AppendLine($"    {Quote(key)} = {List(targets)}");
        sb.AppendLine("  }");
        sb.AppendLine("  catch-all {");
        foreach (var (domain, mailbox) in o.CatchAll) sb.AppendLine($"    {Quote(domain)} = {Quote(mailbox)}");
        sb.AppendLine("  }");
        if (o.TrustedNetworks is not null) sb.AppendLine($"  relay.trusted-networks = {List(o.TrustedNetworks)}");
        sb.AppendLine("  limits {");
        if (o.MaxMessageSize is not null) sb.AppendLine($"    max-message-size = {o.MaxMessageSize}");
        if (o.MaxRecipients is { } r) sb.AppendLine($"    max-recipients = {r}");
        if (o.IdleTimeout is { } idle) sb.AppendLine($"    idle-timeout = {(long)idle.TotalMilliseconds}ms");
        if (o.MaxErrors is { } e) sb.AppendLine($"    max-errors = {e}");
        if (o.MaxConnections is { } c) sb.AppendLine($"    max-connections = {c}");
        sb.AppendLine("  }");
        sb.AppendLine("}");
        sb.AppendLine(o.ExtraHocon);
        return sb.ToString();
    }

    /// <summary>Opens a raw dialog and reads the greeting.</summary>
    public async Task<SmtpDialog> ConnectAsync()
    {
        var dialog = await SmtpDialog.ConnectAsync(Port);
        await dialog.ExpectAsync("220");
        return dialog;
    }

    /// <summary>Opens a raw dialog, reads the greeting and says EHLO.</summary>
    public async Task<SmtpDialog> ConnectEhloAsync(string name = "client.test")
    {
        var dialog = await ConnectAsync();
        await dialog.CommandAsync("EHLO " + name, "250");
        return dialog;
    }

    /// <summary>The Maildir of one mailbox ("user@domain").</summary>
    public MaildirView Mailbox(string address) => new(MaildirRoot, address);

    /// <summary>
    /// Every file under the Maildir root (new/, tmp/, cur/ of every mailbox) whose bytes contain
    /// <paramref name="token"/>, each once: a delivered file's tmp/ name, kept until its link into
    /// new/ is durable (<c>&lt;name&gt;.crc32-&lt;checksum&gt;</c>), is the file in new/, not a second one.
    /// </summary>
    public IReadOnlyList<string> FilesContaining(string token)
    {
        if (!Directory.Exists(MaildirRoot)) return [];
        var needle = Encoding.UTF8.GetBytes(token);
        return Directory.EnumerateFiles(MaildirRoot, "*", SearchOption.AllDirectories)
            .Where(f => !IsLinkedTempName(f) && File.ReadAllBytes(f).AsSpan().IndexOf(needle) >= 0)
            .ToArray();
    }

    private static bool IsLinkedTempName(string path)
    {
        var match = Regex.Match(path, @"/tmp/([^/]+)\.crc32-[0-9a-f]{8}$");
        return match.Success && File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(path))!, "new", match.Groups[1].Value));
    }

    /// <summary>Completes when a line of the current process's output contains <paramref name="text"/>.</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        TaskCompletionSource seen;
        lock (_gate)
        {
            if (_output.ToString(_launchOffset, _output.Length - _launchOffset).Contains(text, StringComparison.Ordinal)) return Task.CompletedTask;
            seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((text, seen));
        }
        return WaitOrFail(seen.Task, timeout, $"'{text}' in the router's output");
    }

    /// <summary>SIGKILL: the process dies at once, mid-write if need be.</summary>
    public void Kill()
    {
        var process = _process;
        if (process is null || HasExited) return;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        process.WaitForExit();
    }

    /// <summary>Sends SIGTERM and returns at once (the router drains, then exits).</summary>
    public Task SignalTerminateAsync() => SignalAsync("TERM");

    /// <summary>Sends a signal (TERM, STOP, CONT...) to the router process and returns at once.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("/usr/bin/kill") { ArgumentList = { "-" + signal, Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        await kill.WaitForExitAsync();
        Assert.True(kill.ExitCode == 0, $"kill -{signal} {Pid} failed with exit code {kill.ExitCode}");
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public async Task<int> StopGracefullyAsync(TimeSpan? timeout = null)
    {
        if (_process is null) return 0;
        // Already gone (it ended on its own): its last words are still in the pipes, and the
        // failure message that quotes Output needs them.
        if (HasExited) return await WaitForExitAsync(TimeSpan.FromSeconds(10));
        await SignalTerminateAsync();
        return await WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(30));
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        var process = _process ?? throw new InvalidOperationException("never started");
        await WaitOrFail(_exited.Task, timeout, "the router to exit");
        await process.WaitForExitAsync(); // drains the redirected output
        return process.ExitCode;
    }

    /// <summary>Starts the router again on the same port and data-dir (killing it first if it still runs).</summary>
    public async Task RestartAsync()
    {
        Kill();
        _process?.Dispose();
        _process = null;
        await LaunchAsync();
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        _process = null;
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task LaunchAsync()
    {
        var process = Spawn();
        var exited = _exited;
        var listening = WaitForOutputAsync($"router: listening on 127.0.0.1:{Port}", StartTimeout);
        var first = await Task.WhenAny(listening, exited.Task);
        if (first != listening)
        {
            await process.WaitForExitAsync();
            Assert.Fail($"router exited with code {process.ExitCode} before listening:\n{Output}");
        }
        await listening;
        await using var probe = await SmtpDialog.ConnectAsync(Port);
        var greeting = await probe.ExpectAsync("220");
        Assert.Contains(Options.Hostname, greeting.Lines[0], StringComparison.Ordinal);
        await probe.SendLineAsync("QUIT");
        await probe.ExpectAsync("221");
    }

    private Process Spawn()
    {
        // nohup and prlimit exec the command in the same process, so the pid stays the router's.
        List<string> command = ["dotnet"];
        if (Options.OpenFileLimit is { } files) command.InsertRange(0, ["/usr/bin/prlimit", $"--nofile={files}:{files}", "--"]);
        if (Options.SighupIgnored) command.Insert(0, "/usr/bin/nohup");
        var info = new ProcessStartInfo(command[0])
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1)) info.ArgumentList.Add(argument);
        info.ArgumentList.Add(RouterDll());
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(ConfigPath);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // Routers end by SIGKILL here, which leaves the runtime no chance to remove its diagnostics
        // socket and debugger pipes from /tmp: without them there is nothing to leave behind.
        info.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach (var (name, value) in Options.Environment) info.Environment[name] = value;

        _exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        var exited = _exited;
        process.Exited += (_, _) => exited.TrySetResult();
        Append($"---- starting router on port {Port}");
        lock (_gate)
        {
            _launchOffset = _output.Length;
            _waiters.Clear();
        }
        process.Start();
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        Append(line);
    }

    private void Append(string line)
    {
        List<TaskCompletionSource> done = [];
        lock (_gate)
        {
            _output.AppendLine(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!line.Contains(_waiters[i].Text, StringComparison.Ordinal)) continue;
                done.Add(_waiters[i].Seen);
                _waiters.RemoveAt(i);
            }
        }
        foreach (var seen in done) seen.TrySetResult();
    }

    private async Task WaitOrFail(Task task, TimeSpan timeout, string what)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"timed out after {timeout.TotalSeconds:0.#}s waiting for {what}; router output:\n{Output}");
        }
    }

    /// <summary>Runs a `router` command (e.g. <c>queue list</c>) with this router's configuration.</summary>
    public Task<(int Exit, string Stdout, string Stderr)> RunCliAsync(params string[] args) => RunCliAsync(ConfigPath, args);

    /// <summary>Runs a `router` command with the configuration file <paramref name="configPath"/>.</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RunCliAsync(string configPath, params string[] args) =>
        ExternalProgram.RunAsync("dotnet", null, [RouterDll(), .. args, "--config", configPath]);

    /// <summary>router.dll beside the tests (Router.Host is a project reference) or in Router.Host's own output.</summary>
    private static string RouterDll()
    {
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, "router.dll") };
        var hostAssembly = typeof(Router.Host.ConfigLoader).Assembly.Location;
        if (hostAssembly.Length > 0) candidates.Add(hostAssembly);
        foreach (var dll in candidates)
        {
            if (File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json"))) return dll;
        }
        throw new FileNotFoundException("router.dll with its runtimeconfig.json not found in: " + string.Join(", ", candidates));
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(Quote)) + "]";
}
