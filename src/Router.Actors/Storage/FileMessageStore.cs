namespace Router.Actors.Storage;


/// <summary>
/// The file spool of the embedded mode: <c>&lt;data&gt;/spool/&lt;queue-id&gt;@&lt;owner&gt;</c>, one
/// file written through the group-commit writer and hard-linked once per owner, so a message
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

    public Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body) =>
        _writer.CommitAsync(Path.Combine(_tmp, queueId), owners.Select(o => PathOf(queueId, o)).ToArray(), trace, body);

    public async Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct)
    {
        try
        {
            return await File.ReadAllBytesAsync(PathOf(queueId, owner), ct).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    public Task ReleaseAsync(string queueId, string owner)
    {
        File.Delete(PathOf(queueId, owner));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListAsync(string owner, DateTimeOffset storedBefore)
    {
        var suffix = "@" + owner.Replace('/', '_');
        IReadOnlyList<string> ids = new DirectoryInfo(_root)
            .EnumerateFiles("*" + suffix)
            .Where(f => f.LastWriteTimeUtc < storedBefore.UtcDateTime)
            .Select(f => f.Name[..^suffix.Length])
            .ToArray();
        return Task.FromResult(ids);
    }

    private string PathOf(string queueId, string owner) =>
        Path.Combine(_root, queueId + "@" + owner.Replace('/', '_'));
}
