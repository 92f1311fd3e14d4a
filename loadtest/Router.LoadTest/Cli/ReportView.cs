using System.Globalization;
using System.Text.Json;
using Router.LoadTest.Generator;
using Router.LoadTest.Sink;
using Spectre.Console;

namespace Router.LoadTest.Cli;

/// <summary>Renders reports for people (Spectre tables) and for scripts (one JSON object).</summary>
internal static class ReportView
{
    public static string Json(LoadReport report) => JsonSerializer.Serialize(report, LoadTestJsonContext.Default.LoadReport);

    public static string Json(SinkStats stats) => JsonSerializer.Serialize(stats, LoadTestJsonContext.Default.SinkStats);

    public static Table Table(LoadReport r)
    {
        var table = NewTable("loadtest run");
        Row(table, "sent", r.Sent);
        Row(table, "accepted (2xx)", r.Accepted);
        Row(table, "temporary failures (4xx)", r.TempFailed);
        Row(table, "permanent failures (5xx)", r.PermFailed);
        Row(table, "aborted by connection errors", r.Aborted);
        Row(table, "connection errors", r.ConnectionErrors);
        Row(table, "recipients accepted / 4xx / 5xx", $"{r.RecipientsAccepted} / {r.RecipientsTempFailed} / {r.RecipientsPermFailed}");
        Row(table, "elapsed", $"{r.ElapsedSeconds:F2} s");
        Row(table, "throughput", $"{r.MessagesPerSecond:F1} msg/s sent, {r.MegabytesPerSecond:F2} MB/s accepted");
        Row(table, "latency p50 / p90 / p99 / max", $"{r.LatencyP50Ms:F2} / {r.LatencyP90Ms:F2} / {r.LatencyP99Ms:F2} / {r.LatencyMaxMs:F2} ms");
        if (r.LastError is not null) Row(table, "last error", r.LastError);
        return table;
    }

    public static Table Table(SinkStats s)
    {
        var table = NewTable("loadtest sink " + s.Listen);
        Row(table, "connections", s.Connections);
        Row(table, "connections turned away (--max-connections)", s.ConnectionsTurnedAway);
        Row(table, "most sessions at once", s.PeakConnections);
        Row(table, "transactions", s.Transactions);
        Row(table, "messages accepted", s.Messages);
        Row(table, "messages refused (too big)", s.MessagesRejected);
        Row(table, "recipients accepted / 4xx / 5xx", $"{s.RecipientsAccepted} / {s.RecipientsTempFailed} / {s.RecipientsPermFailed}");
        Row(table, "recipients delivered", s.RecipientsDelivered);
        Row(table, "bytes", s.Bytes);
        Row(table, "most messages awaiting their reply at once (--data-delay)", s.PeakMessagesInFlight);
        Row(table, "end-to-end latency p50 / p90 / p99 / max", $"{s.LatencyP50Ms:F1} / {s.LatencyP90Ms:F1} / {s.LatencyP99Ms:F1} / {s.LatencyMaxMs:F1} ms ({s.LatencySamples} samples)");
        Row(table, "uptime", $"{s.UptimeSeconds:F1} s");
        return table;
    }

    public static Table Progress(LoadProgress p)
    {
        var table = new Table().AddColumns("sent", "accepted", "failed", "conn errors", "msg/s", "elapsed");
        table.AddRow(
            p.Sent.ToString(CultureInfo.InvariantCulture),
            p.Accepted.ToString(CultureInfo.InvariantCulture),
            p.Failed.ToString(CultureInfo.InvariantCulture),
            p.ConnectionErrors.ToString(CultureInfo.InvariantCulture),
            p.MessagesPerSecond.ToString("F1", CultureInfo.InvariantCulture),
            p.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s");
        return table;
    }

    private static Table NewTable(string title) => new Table { Title = new TableTitle(Markup.Escape(title)) }.AddColumns("metric", "value");

    private static void Row(Table table, string name, long value) => Row(table, name, value.ToString(CultureInfo.InvariantCulture));

    private static void Row(Table table, string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
}
