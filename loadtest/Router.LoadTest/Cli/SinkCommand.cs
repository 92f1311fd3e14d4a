using System.CommandLine;
using System.Net.Sockets;
using Router.LoadTest.Sink;
using Spectre.Console;

namespace Router.LoadTest.Cli;

/// <summary>`loadtest sink`: runs the counting SMTP server until SIGINT/SIGTERM (or --duration), then prints its summary.</summary>
internal static class SinkCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "address to listen on, HOST:PORT (port 0 picks one)", DefaultValueFactory = _ => "127.0.0.1:2525" };
        var tempFail = new Option<double>("--tempfail") { Description = "fraction (0..1) of recipients answered 451" };
        var permFail = new Option<double>("--permfail") { Description = "fraction (0..1) of recipients answered 550" };
        var rules = new Option<string[]>("--fail-rcpt-pattern") { Description = "REGEX=CODE: recipients matching REGEX get CODE (repeatable, first match wins), e.g. ^bad=550" };
        var hostName = new Option<string>("--hostname") { Description = "name in the greeting and EHLO", DefaultValueFactory = _ => "sink.test" };
        var statsFile = new Option<string?>("--stats-file") { Description = "write counters as JSON here every 200 ms and at exit" };
        var maildir = new Option<string?>("--maildir") { Description = "store accepted messages in this Maildir" };
        var maxSize = new Option<long>("--max-size") { Description = "SIZE limit announced and enforced, in bytes", DefaultValueFactory = _ => 64L * 1024 * 1024 };
        var duration = new Option<string?>("--duration") { Description = "stop by itself after this long, e.g. 5m" };
        var json = new Option<bool>("--json") { Description = "print the final summary as one JSON object" };
        var maxConnections = new Option<int>("--max-connections") { Description = "sessions served at once; more are greeted 421 4.7.0 and closed (0: no limit)" };
        var dataDelay = new Option<string?>("--data-delay") { Description = "wait this long before replying to each message's final dot, e.g. 200ms" };

        var command = new Command("sink", "Run a fast SMTP server that counts (and optionally fails) what it receives.")
        {
            listen, tempFail, permFail, rules, hostName, statsFile, maildir, maxSize, duration, json, maxConnections, dataDelay,
        };
        command.SetAction(async (parse, ct) =>
        {
            SinkOptions options;
            TimeSpan? stopAfter;
            try
            {
                options = new SinkOptions
                {
                    Listen = await CliValues.ParseEndPointAsync(parse.GetValue(listen)!, ct),
                    TempFailFraction = CliValues.CheckFraction(parse.GetValue(tempFail), "--tempfail"),
                    PermFailFraction = CliValues.CheckFraction(parse.GetValue(permFail), "--permfail"),
                    Rules = [.. (parse.GetValue(rules) ?? []).Select(RecipientRule.Parse)],
                    HostName = parse.GetValue(hostName)!,
                    StatsFile = parse.GetValue(statsFile),
                    Maildir = parse.GetValue(maildir),
                    MaxMessageSize = parse.GetValue(maxSize),
                    MaxConnections = parse.GetValue(maxConnections) >= 0 ? parse.GetValue(maxConnections) : throw new FormatException("--max-connections must be 0 or more"),
                    DataReplyDelay = parse.GetValue(dataDelay) is { } delay ? CliValues.ParseDuration(delay) : TimeSpan.Zero,
                };
                if (options.TempFailFraction + options.PermFailFraction > 1) throw new FormatException("--tempfail plus --permfail exceeds 1");
                stopAfter = parse.GetValue(duration) is { } d ? CliValues.ParseDuration(d) : null;
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                await Console.Error.WriteLineAsync("loadtest: " + e.Message);
                return 1;
            }

            await using var sink = new SmtpSink(options);
            try
            {
                await sink.StartAsync(ct);
            }
            catch (SocketException e)
            {
                await Console.Error.WriteLineAsync($"loadtest: cannot listen on {options.Listen}: {e.SocketErrorCode}");
                return 2;
            }
            await Console.Out.WriteLineAsync($"sink listening on {sink.EndPoint}");
            await Console.Out.FlushAsync(CancellationToken.None);
            try
            {
                await Task.Delay(stopAfter ?? Timeout.InfiniteTimeSpan, ct);
            }
            catch (OperationCanceledException)
            {
                // SIGINT or SIGTERM: stop cleanly and leave the final stats behind.
            }
            await sink.StopAsync();
            if (parse.GetValue(json)) await Console.Out.WriteLineAsync(ReportView.Json(sink.Stats));
            else AnsiConsole.Write(ReportView.Table(sink.Stats));
            return 0;
        });
        return command;
    }
}
