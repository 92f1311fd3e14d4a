using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Router.Actors.Configuration;

/// <summary>
/// Typed reads of <c>router { }</c> settings (<paramref name="r"/> is that section). A value that
/// is not of the setting's type fails the start with a message that names the setting and says
/// what it takes, where Akka's own reads throw a bare FormatException.
/// </summary>
internal static class SettingReads
{
    public static int Int(this Config r, string key, int fallback) => Read(r, key, "a whole number", () => r.GetInt(key, fallback));

    /// <summary>
    /// A whole number from <paramref name="min"/> to <paramref name="max"/>: outside that range a
    /// limit would refuse every message (max-recipients = 0) or mean nothing, so the start stops.
    /// </summary>
    public static int Int(this Config r, string key, int fallback, int min, int max = int.MaxValue)
    {
        var value = r.Int(key, fallback);
        return value >= min && value <= max
            ? value
            : throw new ConfigurationException(max == int.MaxValue ? $"router.{key} must be at least {min}, not {value}" : $"router.{key} must be from {min} to {max}, not {value}");
    }

    /// <summary>A duration above zero (an idle timeout of 0s closed every connection after its greeting).</summary>
    public static TimeSpan PositiveDuration(this Config r, string key, TimeSpan fallback)
    {
        var value = r.Duration(key, fallback);
        return value > TimeSpan.Zero ? value : throw new ConfigurationException($"router.{key} must be a duration above zero such as 30s, not {r.GetString(key)}");
    }

    public static double Number(this Config r, string key, double fallback) => Read(r, key, "a number", () => r.GetDouble(key, fallback));

    /// <summary>A number from <paramref name="min"/> to <paramref name="max"/> (a rate, a fraction); outside it the start stops.</summary>
    public static double Number(this Config r, string key, double fallback, double min, double max = double.MaxValue)
    {
        var value = r.Number(key, fallback);
        return value >= min && value <= max
            ? value
            : throw new ConfigurationException(max == double.MaxValue ? $"router.{key} must be at least {min}, not {value}" : $"router.{key} must be from {min} to {max}, not {value}");
    }

    public static bool Flag(this Config r, string key, bool fallback) => Read(r, key, "on or off", () => r.GetBoolean(key, fallback));

    public static TimeSpan Duration(this Config r, string key, TimeSpan fallback) =>
        Read(r, key, "a duration such as 30s, 5m or 4h", () => r.GetTimeSpan(key, fallback));

    public static long? Size(this Config r, string key, string what = "a size such as 25MiB") => Read(r, key, what, () => r.GetByteSize(key));

    /// <summary>
    /// The entries of a map keyed by the operator's own data (domains, addresses, logins), such as
    /// router.catch-all. HOCON takes an unquoted dotted key as a path (<c>example.test = x</c> is
    /// <c>example { test = x }</c>): nested objects are joined back into the dotted key, except
    /// under a key holding '@' (an address, quoted in HOCON: what is under it is a wrong value). When
    /// <paramref name="entriesAreObjects"/> (router.dkim), an entry is the first object down the
    /// path that holds a value. A map that is not an object fails, naming the setting.
    /// </summary>
    public static IReadOnlyList<(string Key, HoconValue Value)> Map(this Config r, string key, bool entriesAreObjects = false)
    {
        if (!r.HasPath(key)) return [];
        var map = r.GetValue(key).GetObject() ?? throw new ConfigurationException($"router.{key} must be an object such as {{ \"example.test\" = ... }}");
        var entries = new List<(string, HoconValue)>();
        Walk(map, "");
        return entries;

        void Walk(HoconObject obj, string prefix)
        {
            foreach (var (name, value) in obj.Items)
            {
                var path = prefix + name.Trim('"');
                if (!path.Contains('@') && value.GetObject() is { Items.Count: > 0 } nested && (!entriesAreObjects || nested.Items.Values.All(v => v.IsObject())))
                    Walk(nested, path + ".");
                else
                    entries.Add((path, value));
            }
        }
    }

    /// <summary>A map entry's value that must be one string; <paramref name="setting"/> names the entry in the error.</summary>
    public static string Text(this HoconValue value, string setting) =>
        TextOrNull(value) ?? throw new ConfigurationException($"{setting} must be a string, not {Kind(value)}");

    /// <summary>A map entry's value that is a string or a list of strings.</summary>
    public static IReadOnlyList<string> Texts(this HoconValue value, string setting)
    {
        if (TextOrNull(value) is { } text) return [text];
        var items = value.IsArray() ? value.GetArray() : [];
        var texts = items.Select(TextOrNull).OfType<string>().ToArray();
        return value.IsArray() && texts.Length == items.Count ? texts : throw new ConfigurationException($"{setting} must be a string or a list of strings");
    }

    private static string? TextOrNull(HoconValue value) => !value.IsObject() && !value.IsArray() && value.IsString() ? value.GetString() : null;

    private static string Kind(HoconValue value) => value.IsObject() ? "an object" : value.IsArray() ? "a list" : "an empty value";

    /// <summary>Builds what the node builds from a setting at start; a value it refuses (FormatException) fails naming the setting.</summary>
    public static T Build<T>(string setting, Func<T> build)
    {
        try
        {
            return build();
        }
        catch (FormatException e)
        {
            throw new ConfigurationException($"{setting}: {e.Message}");
        }
    }

    private static T Read<T>(Config r, string key, string what, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or NotSupportedException or InvalidCastException)
        {
            throw new ConfigurationException($"router.{key} must be {what}, not \"{r.GetString(key)}\"");
        }
    }
}
