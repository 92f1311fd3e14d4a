using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Router.LoadTest.Cli;

/// <summary>Parsing of the command-line value forms: endpoints ("127.0.0.1:2525"), durations ("30s") and fractions.</summary>
internal static class CliValues
{
    /// <summary>"ip:port", "[v6]:port" or "host:port" (resolved; the first address wins).</summary>
    public static async Task<IPEndPoint> ParseEndPointAsync(string text, CancellationToken ct)
    {
        if (IPEndPoint.TryParse(text, out var endPoint) && text.Contains(':', StringComparison.Ordinal)) return endPoint;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            throw new FormatException($"'{text}' is not HOST:PORT");
        var host = text[..colon];
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, ct);
            var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new FormatException($"'{host}' has no address");
            return new IPEndPoint(address, port);
        }
        catch (SocketException e)
        {
            throw new FormatException($"cannot resolve '{host}': {e.SocketErrorCode}");
        }
    }

    /// <summary>"500ms", "30s", "2m", "1h", or a number of seconds; at most 1000 hours (timers wait at most about 49 days).</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        (string number, double scale) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1)
            : t.EndsWith('m') ? (t[..^1], 60)
            : t.EndsWith('h') ? (t[..^1], 3600)
            : (t, 1);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value > 0 && value * scale <= 1000 * 3600))
            throw new FormatException($"'{text}' is not a duration such as 30s, 500ms, 2m or 1h (at most 1000h)");
        return TimeSpan.FromSeconds(value * scale);
    }

    public static double CheckFraction(double value, string name)
    {
        if (value is < 0 or > 1 || double.IsNaN(value)) throw new FormatException($"{name} must be between 0 and 1");
        return value;
    }
}
