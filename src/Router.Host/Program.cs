using System.CommandLine;
using System.Runtime.InteropServices;
using Akka.Configuration;
using Router.Actors;
using Router.Actors.Configuration;
using Router.Actors.Smtp;
using Router.Host;

var configOption = new Option<FileInfo?>("--config") { Description = "HOCON file whose values override config/akka.hocon", Recursive = true };

var run = new Command("run", "Run the router (the default)") { configOption };
run.SetAction((result, ct) => RunAsync(result.GetValue(configOption)?.FullName, ct));

var root = new RootCommand("Router: an actor-based SMTP mail router") { configOption, run, CheckCommand.Create(configOption), UserCommands.Create(), QueueCommands.Create(configOption) };
root.SetAction((result, ct) => RunAsync(result.GetValue(configOption)?.FullName, ct));

try
{
    // SIGTERM and SIGINT are ours (drain, then exit): System.CommandLine's own handling would end the
    // process 2 s after the signal, in the middle of the drain.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (Exception e) when (e is ConfigurationException or FileNotFoundException or FormatException or IOException
                              or System.Net.Sockets.SocketException or TimeoutException or System.Data.Common.DbException)
{
    // What an operator must fix (a setting, a taken port, an unreachable seed node or database),
    // whatever the command, in one line rather than a stack trace.
    var what = e is System.Data.Common.DbException ? "the queue store (router.queue.connection-string): " : "";
    var why = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message}: {inner.Message}" : e.Message;
    await Console.Error.WriteLineAsync($"router: {what}{why}").ConfigureAwait(false);
    return 2;
}
catch (Exception e)
{
    await Console.Error.WriteLineAsync($"router: unexpected error: {e}").ConfigureAwait(false);
    return 1;
}

// Whether SIGHUP (signal 1) is ignored in this process: bit 0 of the SigIgn mask in /proc/self/status (Linux).
static bool SighupIgnored()
{
    try
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null
            && ulong.TryParse(line.AsSpan("SigIgn:".Length).Trim(), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var mask)
            && (mask & 1) != 0;
    }
    catch (IOException)
    {
        return false; // no /proc: not Linux, nothing to tell
    }
}

static async Task<int> RunAsync(string? configPath, CancellationToken ct)
{
    // The signals are ours from the start: a SIGTERM while the node starts (joining a cluster can
    // take a while) stops it as cleanly as one later, instead of the runtime's exit 143.
    var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    using var starting = CancellationTokenSource.CreateLinkedTokenSource(ct);
    void OnSignal(PosixSignalContext c)
    {
        c.Cancel = true;
        stop.TrySetResult();
        starting.Cancel();
    }
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    RouterNode? running = null;
    using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
    {
        c.Cancel = true;
        if (running is { } started) Reload(started, configPath);
        else Console.Error.WriteLine("router: SIGHUP ignored: still starting");
    });
    // A SIGHUP that whoever started us set to be ignored (nohup does) stays ignored: the runtime
    // keeps an inherited SIG_IGN, and `kill -HUP` would then reload nothing, silently.
    if (SighupIgnored()) Console.Error.WriteLine("router: warning: SIGHUP is ignored (inherited from the process that started the router, e.g. nohup): kill -HUP will not reload the configuration; start the router without nohup");
    RouterNode node;
    try
    {
        var (config, settings) = ConfigLoader.Load(configPath);
        // Read once, when System.Net.Sockets first uses its engine: before any socket is opened.
        if (SessionDispatcher.Applies(settings, DeliverySettings.FromConfig(config))) Environment.SetEnvironmentVariable(SessionDispatcher.InlineCompletionsVariable, "1");
        node = await RouterNode.StartAsync(config, settings, starting.Token).ConfigureAwait(false);
    }
    catch (OperationCanceledException) when (stop.Task.IsCompleted)
    {
        Console.WriteLine("router: stopped while starting");
        return 0;
    }

    running = node;
    Microsoft.AspNetCore.Builder.WebApplication? admin = null;
    if (node.Settings.HttpEndpoint is { } http)
    {
        try
        {
            admin = await AdminHttp.StartAsync(node, http).ConfigureAwait(false);
            Console.WriteLine($"router: admin (health, metrics, queue) on http://{http}");
        }
        catch (IOException e)
        {
            // The mail service does not depend on it: run without, and say why.
            await Console.Error.WriteLineAsync($"router: admin endpoint {http} not started: {e.Message}").ConfigureAwait(false);
        }
    }
    // Last: "listening" means everything is up, the admin endpoint included.
    if (node.SubmissionEndpoints.Count > 0) Console.WriteLine($"router: submission (STARTTLS, AUTH) on {string.Join(", ", node.SubmissionEndpoints)}");
    if (node.TlsEndpoints.Count > 0) Console.WriteLine($"router: submission over implicit TLS on {string.Join(", ", node.TlsEndpoints)}");
    Console.WriteLine($"router: listening on {string.Join(", ", node.SmtpEndpoints)}; data in {node.Settings.DataDir}");
    var ended = await Task.WhenAny(stop.Task, node.System.WhenTerminated).ConfigureAwait(false);
    if (admin is not null) await admin.DisposeAsync().ConfigureAwait(false);
    if (ended != stop.Task)
    {
        // The actor system stopped without being asked: the cluster downed this node (the Split
        // Brain Resolver, after it stopped answering) or it could not join. It takes no mail any
        // more, so end with Akka's exit code for the reason and let the supervisor start it again.
        var reason = Akka.Actor.CoordinatedShutdown.Get(node.System).ShutdownReason;
        await Console.Error.WriteLineAsync($"router: the actor system stopped on its own ({reason?.GetType().Name ?? "unknown reason"}); exiting").ConfigureAwait(false);
        await node.DisposeAsync().ConfigureAwait(false);
        return reason is { ExitCode: > 0 } ? reason.ExitCode : 1;
    }
    Console.WriteLine("router: stopping (draining sessions)");
    await node.StopAsync().ConfigureAwait(false);
    Console.WriteLine("router: stopped");
    return 0;
}

// SIGHUP (like `postfix reload`): the configuration files are read again, and the routing tables
// (local-domains, mailboxes, mailboxes-file, aliases, catch-all), the TLS certificate and the
// smarthost credentials (relay.auth and its password files) replaced;
// when something does not load, or would stop the next start, what is in use stays. Other settings
// take effect at the next start.
static void Reload(RouterNode node, string? configPath)
{
    try
    {
        var (config, settings) = ConfigLoader.Load(configPath);
        Console.WriteLine($"router: reloaded: {node.Reload(config, settings)} (other settings take effect at the next start)");
    }
    catch (Exception e)
    {
        // Whatever went wrong, a reload must not end the router: what is in use stays.
        Console.Error.WriteLine($"router: reload failed; the routing tables and certificate in use stay: {e.Message}");
    }
}
