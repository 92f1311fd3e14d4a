using System.CommandLine;
using System.Net;
using Router.LoadTest.Generator;
using Spectre.Console;

namespace Router.LoadTest.Cli;

/// <summary>`loadtest run`: the options of a load run, the live progress view and the final report.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var target = new Option<string[]>("--target") { Description = "SMTP server HOST:PORT (repeatable, used round-robin)", Required = true };
        var connections = new Option<int>("--connections", "-c") { Description = "concurrent SMTP sessions", DefaultValueFactory = _ => 1 };
        var messages = new Option<long?>("--messages", "-n") { Description = "stop after this many messages (default 1000 without --duration)" };
        var duration = new Option<string?>("--duration", "-d") { Description = "stop after this long, e.g. 30s, 2m" };
        var rate = new Option<double?>("--rate") { Description = "open loop: start this many messages per second" };
        var size = new Option<string>("--size") { Description = "message size in bytes, e.g. 4096, 4k, or a uniform range 1k-100k", DefaultValueFactory = _ => "4096" };
        var recipients = new Option<int>("--recipients") { Description = "recipients per message", DefaultValueFactory = _ => 1 };
        var to = new Option<string[]>("--to") { Description = "recipient address (repeatable, round-robin)" };
        var localDomain = new Option<string>("--local-domain") { Description = "domain of made-up recipients", DefaultValueFactory = _ => "local.test" };
        var remoteDomain = new Option<string?>("--remote-domain") { Description = "domain of the remote share of made-up recipients" };
        var remoteFraction = new Option<double>("--remote-fraction") { Description = "share (0..1) of made-up recipients in --remote-domain", DefaultValueFactory = _ => 0.5 };
        var from = new Option<string>("--from") { Description = "envelope sender and From:", DefaultValueFactory = _ => "loadtest@loadtest.test" };
        var helo = new Option<string>("--helo") { Description = "name sent in EHLO", DefaultValueFactory = _ => "loadtest.test" };
        var noPipelining = new Option<bool>("--no-pipelining") { Description = "never pipeline, even when the server offers it" };
        var startTls = new Option<bool>("--starttls") { Description = "STARTTLS on every connection (certificate not verified)" };
        var auth = new Option<string?>("--auth") { Description = "AUTH as user:password" };
        var timeout = new Option<string>("--timeout") { Description = "every SMTP timeout", DefaultValueFactory = _ => "30s" };
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of tables" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "no live progress" };

        var command = new Command("run", "Send SMTP load to one or more targets and report throughput and latency.")
        {
            target, connections, messages, duration, rate, size, recipients, to, localDomain, remoteDomain, remoteFraction,
            from, helo, noPipelining, startTls, auth, timeout, json, quiet,
        };
        command.SetAction(async (parse, ct) =>
        {
            LoadGeneratorOptions options;
            try
            {
                var endPoints = new List<IPEndPoint>();
                foreach (var t in parse.GetValue(target)!) endPoints.Add(await CliValues.ParseEndPointAsync(t, ct));
                var credentials = parse.GetValue(auth);
                var colon = credentials?.IndexOf(':', StringComparison.Ordinal) ?? 0;
                if (credentials is not null && colon <= 0) throw new FormatException("--auth must be user:password");
                options = new LoadGeneratorOptions
                {
                    Targets = endPoints,
                    Connections = Positive(parse.GetValue(connections), "--connections"),
                    Messages = parse.GetValue(messages) is { } m ? Positive(m, "--messages") : null,
                    Duration = parse.GetValue(duration) is { } d ? CliValues.ParseDuration(d) : null,
                    Rate = parse.GetValue(rate) is { } r ? (r > 0 ? r : throw new FormatException("--rate must be positive")) : null,
                    Size = SizeRange.Parse(parse.GetValue(size)!),
                    RecipientsPerMessage = Positive(parse.GetValue(recipients), "--recipients"),
                    To = parse.GetValue(to) ?? [],
                    LocalDomain = parse.GetValue(localDomain)!,
                    RemoteDomain = parse.GetValue(remoteDomain),
                    RemoteFraction = CliValues.CheckFraction(parse.GetValue(remoteFraction), "--remote-fraction"),
                    From = parse.GetValue(from)!,
                    HeloName = parse.GetValue(helo)!,
                    Pipelining = !parse.GetValue(noPipelining),
                    StartTls = parse.GetValue(startTls),
                    AuthUser = credentials?[..colon],
                    AuthPassword = credentials?[(colon + 1)..],
                    Timeout = CliValues.ParseDuration(parse.GetValue(timeout)!),
                };
            }
            catch (FormatException e)
            {
                await Console.Error.WriteLineAsync("loadtest: " + e.Message);
                return 1;
            }

            var asJson = parse.GetValue(json);
            var live = !asJson && !parse.GetValue(quiet) && !Console.IsOutputRedirected;
            var generator = new LoadGenerator(options);
            LoadReport report;
            try
            {
                report = live ? await RunLiveAsync(generator, ct) : await generator.RunAsync(ct);
            }
            catch (TargetUnavailableException e)
            {
                await Console.Error.WriteLineAsync("loadtest: " + e.Message);
                return 2;
            }
            if (asJson) Console.Out.WriteLine(ReportView.Json(report));
            else AnsiConsole.Write(ReportView.Table(report));
            return report.Sent == 0 && report.ConnectionErrors > 0 ? 2 : 0;
        });
        return command;
    }

    private static async Task<LoadReport> RunLiveAsync(LoadGenerator generator, CancellationToken ct)
    {
        var run = generator.RunAsync(ct);
        await AnsiConsole.Live(ReportView.Progress(generator.Progress)).StartAsync(async ctx =>
        {
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(250, CancellationToken.None));
                ctx.UpdateTarget(ReportView.Progress(generator.Progress));
            }
        });
        return await run;
    }

    private static T Positive<T>(T value, string name) where T : System.Numerics.INumber<T>
        => value > T.Zero ? value : throw new FormatException($"{name} must be positive");
}
