namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>Awaits a condition that becomes true on its own (a port closing, a file appearing), with a deadline.</summary>
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
}
