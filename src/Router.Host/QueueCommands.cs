using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using Router.Actors.Delivery;

namespace Router.Host;

/// <summary>
/// `router queue list|show|retry|delete`: Postfix's mailq, postcat -q, postqueue -f and postsuper -d
/// for Router, talking to the running node's admin endpoint (router.http.endpoint).
/// </summary>
internal static class QueueCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Command Create(Option<FileInfo?> configOption)
    {
        var queue = new Command("queue", "Show and manage the delivery queue of the running node");

        var list = new Command("list", "List queued messages (like mailq)");
        list.SetAction((r, ct) => WithClient(r, configOption, async http =>
        {
            var listings = await http.GetFromJsonAsync<DomainDeliveryActor.QueueListing[]>("/queue", Json, ct).ConfigureAwait(false) ?? [];
            var total = 0;
            foreach (var listing in listings)
            {
                // Postfix's words: why the messages of this destination are not being tried.
                if (listing.SuspendedUntil is { } until) Console.WriteLine($"-- {listing.Domain}: delivery temporarily suspended until {until:u}: {listing.SuspendedFor}");
                foreach (var m in listing.Messages)
                {
                    total++;
                    Console.WriteLine($"{m.QueueId,-20} {m.Size,9} {m.ArrivedAt:u}  <{m.Sender}>  attempts={m.Attempts} next={m.NextAttempt:u}");
                    foreach (var rcpt in m.Recipients) Console.WriteLine($"{"",22}{rcpt.Address} [{rcpt.State}] {rcpt.LastReply}");
                }
            }
            Console.WriteLine(total == 0 ? "Mail queue is empty" : $"-- {total} messages in {listings.Length} domains");
            return 0;
        }));

        var idArgument = new Argument<string>("id") { Description = "Queue id" };
        var show = new Command("show", "Show one queued message's envelope and recipients") { idArgument };
        show.SetAction((r, ct) => WithClient(r, configOption, async http =>
        {
            var id = r.GetValue(idArgument)!;
            var listings = await http.GetFromJsonAsync<DomainDeliveryActor.QueueListing[]>("/queue", Json, ct).ConfigureAwait(false) ?? [];
            var found = listings.SelectMany(l => l.Messages.Select(m => (l.Domain, m))).Where(x => x.m.QueueId == id).ToArray();
            if (found.Length == 0)
            {
                await Console.Error.WriteLineAsync($"router: {Named(id)} is not in the queue").ConfigureAwait(false);
                return 1;
            }
            foreach (var (domain, m) in found)
            {
                Console.WriteLine($"id: {m.QueueId}\ndomain: {domain}\nsender: <{m.Sender}>\narrived: {m.ArrivedAt:u}\nsize: {m.Size}\nattempts: {m.Attempts}\nnext attempt: {m.NextAttempt:u}");
                foreach (var rcpt in m.Recipients) Console.WriteLine($"recipient: {rcpt.Address} [{rcpt.State}] {rcpt.LastReply}");
            }
            return 0;
        }));

        var optionalId = new Argument<string?>("id") { Description = "Queue id (all when omitted)", Arity = ArgumentArity.ZeroOrOne };
        var domainOption = new Option<string?>("--domain") { Description = "Only this destination domain" };
        var retry = new Command("retry", "Try deferred messages now (like postqueue -f)") { optionalId, domainOption };
        retry.SetAction((r, ct) => WithClient(r, configOption, async http =>
        {
            var parameters = new List<string>();
            var id = r.GetValue(optionalId);
            var domain = r.GetValue(domainOption);
            if (id is not null) parameters.Add("id=" + Uri.EscapeDataString(id));
            if (domain is not null) parameters.Add("domain=" + Uri.EscapeDataString(domain));
            var query = "/queue/retry" + (parameters.Count > 0 ? "?" + string.Join('&', parameters) : "");
            using var response = await http.PostAsync(new Uri(query, UriKind.Relative), null, ct).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            var result = await response.Content.ReadFromJsonAsync<RetryResult>(Json, ct).ConfigureAwait(false);
            // Naming what is not queued is an error, as for show and delete; an empty queue with nothing named is not.
            if ((id is not null || domain is not null) && (result?.Queued ?? 0) == 0)
            {
                var what = id is null ? $"nothing is queued for {domain}" : domain is null ? $"{Named(id)} is not in the queue" : $"{Named(id)} is not in the queue for {domain}";
                await Console.Error.WriteLineAsync($"router: {what}").ConfigureAwait(false);
                return 1;
            }
            Console.WriteLine($"{result?.Count ?? 0} messages scheduled for immediate delivery");
            return 0;
        }));

        var delete = new Command("delete", "Delete a queued message without a bounce (like postsuper -d)") { idArgument };
        delete.SetAction((r, ct) => WithClient(r, configOption, async http =>
        {
            var id = r.GetValue(idArgument)!;
            // "" names nothing; sent, it would be DELETE /queue/, which the endpoint does not route (405).
            var result = id.Length == 0 ? null : await DeleteAsync(http, id, ct).ConfigureAwait(false);
            if ((result?.Count ?? 0) == 0)
            {
                await Console.Error.WriteLineAsync($"router: {Named(id)} is not in the queue").ConfigureAwait(false);
                return 1;
            }
            Console.WriteLine($"{result!.Count} queue entries deleted");
            return 0;
        }));

        queue.Subcommands.Add(list);
        queue.Subcommands.Add(show);
        queue.Subcommands.Add(retry);
        queue.Subcommands.Add(delete);
        return queue;
    }

    private static async Task<int> WithClient(ParseResult result, Option<FileInfo?> configOption, Func<HttpClient, Task<int>> action)
    {
        var (_, settings) = ConfigLoader.Load(result.GetValue(configOption)?.FullName);
        if (settings.HttpEndpoint is null)
        {
            await Console.Error.WriteLineAsync("router: router.http.endpoint is disabled in the configuration").ConfigureAwait(false);
            return 2;
        }
        using var http = new HttpClient { BaseAddress = new Uri($"http://{settings.HttpEndpoint}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            return await action(http).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await Console.Error.WriteLineAsync($"router: cannot reach the node at {settings.HttpEndpoint}: {e.Message}").ConfigureAwait(false);
            return 2;
        }
    }

    private static async Task<CountResult?> DeleteAsync(HttpClient http, string id, CancellationToken ct)
    {
        using var response = await http.DeleteAsync(new Uri("/queue/" + Uri.EscapeDataString(id), UriKind.Relative), ct).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<CountResult>(Json, ct).ConfigureAwait(false);
    }

    /// <summary>A queue id as the messages name it: an empty one as "", not as nothing.</summary>
    private static string Named(string id) => id.Length == 0 ? "\"\"" : id;

    private sealed record CountResult(int Count);

    private sealed record RetryResult(int Count, int Queued);
}
