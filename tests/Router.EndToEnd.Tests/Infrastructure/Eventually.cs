namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Awaits a condition on state another process changes (a port closing, a Maildir, the spool
/// folder) with a deadline: checks it every 50 ms and fails the test, saying what it waited for or
/// what was last seen, when the deadline passes. Never a fixed sleep that hopes the work is done.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {timeout.TotalSeconds:0.#}s waiting for {what}");
            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Returns the first non-null value <paramref name="probe"/> yields.</summary>
    public static async Task<T> ValueAsync<T>(Func<T?> probe, TimeSpan timeout, Func<string> whatWasSeen)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (probe() is { } value) return value;
            if (DateTime.UtcNow >= deadline) Assert.Fail($"not met within {timeout.TotalSeconds:0.#}s: {whatWasSeen()}");
            await Task.Delay(PollInterval);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, Func<string> whatWasSeen) =>
        ValueAsync(() => condition() ? "" : null, timeout, whatWasSeen);
}
