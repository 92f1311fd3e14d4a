using System.Globalization;

namespace Router.LoadTest.Generator;

/// <summary>Message sizes in bytes: one fixed size ("4096", "4k") or a uniform range ("1k-100k").</summary>
public readonly record struct SizeRange(int Min, int Max)
{
    public static SizeRange Fixed(int size) => new(size, size);

    /// <summary>Parses "N", "Nk", "Nm" or "A-B" with those suffixes (k = 1024).</summary>
    public static SizeRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var min = ParseOne(dash < 0 ? text : text[..dash]);
        var max = dash < 0 ? min : ParseOne(text[(dash + 1)..]);
        if (max < min) throw new FormatException($"size range '{text}' has its maximum below its minimum");
        return new SizeRange(min, max);
    }

    public int Next(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Min == Max ? Min : random.Next(Min, Max + 1);
    }

    public override string ToString() => Min == Max ? Min.ToString(CultureInfo.InvariantCulture) : $"{Min}-{Max}";

    private static int ParseOne(string s)
    {
        s = s.Trim();
        var multiplier = 1L;
        if (s.Length > 0 && char.ToLowerInvariant(s[^1]) is 'k' or 'm')
        {
            multiplier = char.ToLowerInvariant(s[^1]) == 'k' ? 1024 : 1024 * 1024;
            s = s[..^1];
        }
        if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n * multiplier is <= 0 or > 512L * 1024 * 1024)
            throw new FormatException($"'{s}' is not a size such as 4096, 4k or 1m (at most 512m)");
        return (int)(n * multiplier);
    }
}
