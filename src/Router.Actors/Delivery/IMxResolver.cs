namespace Router.Actors.Delivery;

/// <summary>
/// Turns a destination domain into the hosts to deliver to (RFC 5321 s5.1). Implementations
/// return every DNS outcome as a <see cref="MxResolution"/>; only cancellation throws.
/// </summary>
public interface IMxResolver
{
    Task<MxResolution> ResolveAsync(string domain, CancellationToken ct);
}
