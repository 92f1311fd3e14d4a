namespace Router.LoadTest.Generator;

/// <summary>
/// Hands out recipients, shared by all connections: the --to list round-robin, or made-up
/// addresses whose domain is remote for an even RemoteFraction share (a counter, not a die).
/// </summary>
internal sealed class RecipientPicker
{
    private readonly LoadGeneratorOptions _options;
    private long _next = -1;

    public RecipientPicker(LoadGeneratorOptions options) => _options = options;

    public string Next()
    {
        var n = Interlocked.Increment(ref _next);
        if (_options.To.Count > 0) return _options.To[(int)(n % _options.To.Count)];
        var f = _options.RemoteFraction;
        var remote = _options.RemoteDomain is not null && Math.Floor((n + 1) * f) > Math.Floor(n * f);
        return $"user{n % 10_000}@{(remote ? _options.RemoteDomain : _options.LocalDomain)}";
    }
}
