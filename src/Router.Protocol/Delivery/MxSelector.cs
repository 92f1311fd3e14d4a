namespace Router.Protocol.Delivery;

/// <summary>
/// Orders a domain's MX records for delivery (RFC 5321 s5.1): lowest preference first, hosts of
/// equal preference shuffled so load spreads across them, duplicates dropped, at most N hosts.
/// A lone MX whose exchange is "." is a null MX (RFC 7505 s3): the domain accepts no mail.
/// Pure: DNS lookups happen in the caller.
/// </summary>
public static class MxSelector
{
    public const int DefaultMaxHosts = 5;

    /// <param name="records">The MX answers in any order (resolvers do not sort them).</param>
    /// <param name="random">Source of the shuffle among equal preferences; pass a seeded one in tests.</param>
    /// <param name="maxHosts">How many hosts to keep at most.</param>
    public static MxSelection Select(IEnumerable<MxRecord> records, Random random, int maxHosts = DefaultMaxHosts)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHosts, 1);

        var all = records.Select(r => r with { Exchange = Normalize(r.Exchange) }).ToList();
        if (all.Count == 0) return MxSelection.None;

        // RFC 7505 s3: a null MX is the only MX of its domain. Where "." sits beside real hosts the
        // record set is malformed; the real hosts are still the publisher's best statement, so use them.
        var hosts = all.Where(r => r.Exchange.Length > 0).ToList();
        if (hosts.Count == 0) return MxSelection.NullMx;

        // Shuffle first, then a stable sort by preference: equal preferences keep their random order.
        Shuffle(hosts, random);
        var ordered = hosts.OrderBy(r => r.Preference);

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var result = new List<MxRecord>(Math.Min(maxHosts, hosts.Count));
        foreach (var record in ordered)
        {
            // The same exchange listed twice keeps its most preferred (first) position.
            if (!seen.Add(record.Exchange)) continue;
            result.Add(record);
            if (result.Count == maxHosts) break;
        }
        return new MxSelection(false, result);
    }

    /// <summary>Lower-case, without the trailing root dot; "." itself becomes "".</summary>
    private static string Normalize(string exchange) => exchange.Trim().TrimEnd('.').ToLowerInvariant();

    private static void Shuffle(List<MxRecord> list, Random random)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
