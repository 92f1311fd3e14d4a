namespace Router.Actors.Storage;

/// <summary>
/// The durable store of queued message bodies, written once when a message is accepted for
/// relay and read at each delivery attempt. Each destination domain holds its own reference, so
/// each domain's queue drops its reference when it is done, independently of the others.
/// </summary>
public interface IMessageStore
{
    /// <summary>Completes once the message is durable for every domain in <paramref name="domains"/>.</summary>
    Task StoreAsync(string queueId, IReadOnlyList<string> domains, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body);

    /// <summary>The message (trace header and body), or null when no copy exists for that domain.</summary>
    Task<byte[]?> LoadAsync(string queueId, string domain, CancellationToken ct);

    /// <summary>Drops the domain's reference; the bytes go when the last reference does.</summary>
    Task ReleaseAsync(string queueId, string domain);
}

/// <summary>
/// The file spool of the embedded mode: <c>&lt;data&gt;/spool/&lt;queue-id&gt;@&lt;domain&gt;</c>, one
/// file written through the group-commit writer and hard-linked once per domain, so a message
/// for three domains costs one write and three names.
/// </summary>
public sealed class FileMessageStore : IMessageStore
{
    private readonly DurableFileWriter _writer;
    private readonly string _root;
    private readonly string _tmp;

    public FileMessageStore(string dataDir, DurableFileWriter writer)
    {
        _writer = writer;
        _root = Path.Combine(dataDir, "spool");
        _tmp = Path.Combine(_root, "tmp");
        Directory.CreateDirectory(_tmp);
        // A body in tmp/ was never acknowledged: whatever a crash left there can go.
        foreach (var stale in Directory.EnumerateFiles(_tmp)) File.Delete(stale);
    }

    public Task StoreAsync(string queueId, IReadOnlyList<string> domains, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body) =>
        _writer.CommitAsync(Path.Combine(_tmp, queueId), domains.Select(d => PathOf(queueId, d)).ToArray(), trace, body);

    public async Task<byte[]?> LoadAsync(string queueId, string domain, CancellationToken ct)
    {
        try
        {
            return await File.ReadAllBytesAsync(PathOf(queueId, domain), ct).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    public Task ReleaseAsync(string queueId, string domain)
    {
        File.Delete(PathOf(queueId, domain));
        return Task.CompletedTask;
    }

    private string PathOf(string queueId, string domain) =>
        Path.Combine(_root, queueId + "@" + domain.Replace('/', '_'));
}
