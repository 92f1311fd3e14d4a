using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Router.Actors;
using Router.Actors.Admin;

namespace Router.Host;

/// <summary>
/// The admin endpoint on loopback (router.http.endpoint): /health, Prometheus /metrics, a small
/// status page, and the queue operations that `router queue ...` calls. Never exposed beyond
/// the configured address; it carries no message content.
/// </summary>
internal static class AdminHttp
{
    public static async Task<WebApplication> StartAsync(RouterNode node, IPEndPoint endpoint)
    {
        // The empty builder: no appsettings.json, no environment, no logging. The slim one reads
        // appsettings.json from the working directory and watches that directory, recursively,
        // for changes: with the data folder under it (scripts/run.sh), every Maildir file sent the
        // process inotify events, and a router started in / would watch the whole tree.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls($"http://{endpoint}");
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var queue = node.Queue;

        app.MapGet("/health", () => Results.Text("ok\n"));
        app.MapGet("/metrics", async () =>
        {
            var listings = await queue.ListAsync().ConfigureAwait(false);
            var ownership = await node.OwnershipAsync().ConfigureAwait(false);
            return Results.Text(RouterMetrics.ToPrometheus(listings.Sum(l => l.Messages.Length), node.SpoolUsage, ownership, node.BodyBudget, node.DeliverySlots), "text/plain; version=0.0.4");
        });
        app.MapGet("/queue", async () => Results.Json(await queue.ListAsync().ConfigureAwait(false)));
        app.MapPost("/queue/retry", async (string? domain, string? id) =>
        {
            var retried = await queue.RetryAsync(domain, id).ConfigureAwait(false);
            return Results.Json(new { count = retried.Scheduled, queued = retried.Queued });
        });
        app.MapDelete("/queue/{id}", async (string id) => Results.Json(new { count = await queue.DeleteAsync(id).ConfigureAwait(false) }));
        app.MapGet("/", async () =>
        {
            var listings = await queue.ListAsync().ConfigureAwait(false);
            var html = new StringBuilder("<!doctype html><title>Router</title><h1>Router ")
                .Append(WebUtility.HtmlEncode(node.Settings.Hostname)).Append("</h1><ul>")
                .Append("<li>SMTP: ").Append(WebUtility.HtmlEncode(string.Join(", ", node.SmtpEndpoints))).Append("</li>")
                .Append("<li>Sessions open: ").Append(RouterMetrics.SessionsOpen).Append("</li>")
                .Append("<li>Messages accepted: ").Append(RouterMetrics.MessagesAccepted).Append("</li>")
                .Append("<li>Queued: ").Append(listings.Sum(l => l.Messages.Length)).Append(" messages in ").Append(listings.Count).Append(" domains</li></ul>")
                .Append("<p><a href=\"/metrics\">metrics</a> · <a href=\"/queue\">queue (JSON)</a></p>");
            return Results.Content(html.ToString(), "text/html; charset=utf-8");
        });
        await app.StartAsync().ConfigureAwait(false);
        return app;
    }
}
