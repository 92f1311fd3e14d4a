using System.Globalization;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>A router's /metrics (Prometheus text) as name -> value; a labelled sample is keyed with its labels, as written (<c>router_dnsbl_hits_total{zone="bl.test"}</c>).</summary>
public static class AdminMetrics
{
    public static async Task<Dictionary<string, long>> ReadAsync(HttpClient client) =>
        (await client.GetStringAsync("/metrics"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith('#'))
            .Select(line => line.Split(' '))
            .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture));
}
