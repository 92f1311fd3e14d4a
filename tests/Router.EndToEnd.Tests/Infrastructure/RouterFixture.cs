namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>One router process shared by the tests of a class or collection (starting one costs 1-2 s).</summary>
public abstract class RouterFixture : IAsyncLifetime
{
    public RouterProcess Router { get; private set; } = null!;

    protected abstract RouterOptions Options { get; }

    public async Task InitializeAsync() => Router = await RouterProcess.StartAsync(Options);

    public Task DisposeAsync()
    {
        Router?.Dispose();
        return Task.CompletedTask;
    }
}
