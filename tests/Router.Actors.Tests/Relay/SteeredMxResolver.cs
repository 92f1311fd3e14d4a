using Router.Actors.Delivery;

namespace Router.Actors.Tests.Relay;

/// <summary>An <see cref="IMxResolver"/> that answers what the test last set, and counts the lookups.</summary>
internal sealed class SteeredMxResolver : IMxResolver
{
    private int _lookups;

    public volatile MxResolution Resolution = new MxResolution.TemporaryFailure("not set by the test");

    public int Lookups => Volatile.Read(ref _lookups);

    public Task<MxResolution> ResolveAsync(string domain, CancellationToken ct)
    {
        Interlocked.Increment(ref _lookups);
        return Task.FromResult(Resolution);
    }
}
