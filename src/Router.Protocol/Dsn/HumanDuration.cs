using System.Globalization;

namespace Router.Protocol.Dsn;

/// <summary>
/// A duration as a person writes it, for the readable part of a DSN and for logs: "5 days",
/// "4 hours", "2 minutes 30 seconds", not TimeSpan's "5.00:00:00". Whole units from days down to
/// seconds, the zero ones left out; under a second, milliseconds.
/// </summary>
public static class HumanDuration
{
    public static string Format(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero) duration = duration.Duration();
        if (duration < TimeSpan.FromSeconds(1)) return Unit((long)duration.TotalMilliseconds, "millisecond");
        var parts = new List<string>(4);
        if (duration.Days > 0) parts.Add(Unit(duration.Days, "day"));
        if (duration.Hours > 0) parts.Add(Unit(duration.Hours, "hour"));
        if (duration.Minutes > 0) parts.Add(Unit(duration.Minutes, "minute"));
        if (duration.Seconds > 0) parts.Add(Unit(duration.Seconds, "second"));
        return string.Join(' ', parts);
    }

    private static string Unit(long count, string name) =>
        count.ToString(CultureInfo.InvariantCulture) + " " + (count == 1 ? name : name + "s");
}
