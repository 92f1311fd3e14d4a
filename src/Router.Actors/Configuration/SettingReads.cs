using Akka.Configuration;

namespace Router.Actors.Configuration;

/// <summary>
/// Typed reads of <c>router { }</c> settings (<paramref name="r"/> is that section). A value that
/// is not of the setting's type fails the start with a message that names the setting and says
/// what it takes, where Akka's own reads throw a bare FormatException.
/// </summary>
internal static class SettingReads
{
    public static int Int(this Config r, string key, int fallback) => Read(r, key, "a whole number", () => r.GetInt(key, fallback));

    public static double Number(this Config r, string key, double fallback) => Read(r, key, "a number", () => r.GetDouble(key, fallback));

    public static bool Flag(this Config r, string key, bool fallback) => Read(r, key, "on or off", () => r.GetBoolean(key, fallback));

    public static TimeSpan Duration(this Config r, string key, TimeSpan fallback) =>
        Read(r, key, "a duration such as 30s, 5m or 4h", () => r.GetTimeSpan(key, fallback));

    public static long? Size(this Config r, string key, string what = "a size such as 25MiB") => Read(r, key, what, () => r.GetByteSize(key));

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
