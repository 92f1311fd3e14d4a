namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Awaits a condition on state another process changes (a Maildir, the spool folder) with a
/// deadline: checks it every 50 ms and fails the test with a description of what was last seen
/// when the deadline passes. Never a fixed sleep that hopes the work is done.
/// </summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Returns the first non-null value <paramref name="probe"/> yields.</summary>
    public static async Task<T> ValueAsync<T>(Func<T?> probe, TimeSpan timeout, Func<string> whatWasSeen)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (probe() is { } value) return value;
            if (DateTime.UtcNow >= deadline) Assert.Fail($"not met within {timeout.TotalSeconds:0.#}s: {whatWasSeen()}");
            await Task.Delay(Interval);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, Func<string> whatWasSeen) =>
        ValueAsync(() => condition() ? "" : null, timeout, whatWasSeen);
}
