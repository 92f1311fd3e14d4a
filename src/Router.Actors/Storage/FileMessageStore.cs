using System.Collections.Concurrent;

namespace Router.Actors.Storage;

/// <summary>
/// The file spool of the embedded mode: <c>&lt;data&gt;/spool/&lt;queue-id&gt;@&lt;owner&gt;</c>, one
/// file written through the group-commit writer and hard-linked once per owner, so a message
/// for three domains costs one write and three names. Each owner's first read of a message
/// stored by this process is served from memory (within <see cref="DefaultFreshBytesLimit"/> bytes): the
/// first delivery attempt follows acceptance within milliseconds, and reading back what was
/// just written cost an open, a read and a close per message. Later reads go to the file.
/// </summary>
public sealed class FileMessageStore : IMessageStore
{
    /// <summary>By default at most this many bytes of freshly stored messages are kept for their first read.</summary>
    public const long DefaultFreshBytesLimit = 64 << 20;

    private readonly ConcurrentDictionary<string, byte[]> _fresh = new(StringComparer.Ordinal);
    private long _freshBytes;
    private readonly long _freshBytesLimit;
    private readonly DurableFileWriter _writer;
    private readonly string _root;
    private readonly string _tmp;

    public FileMessageStore(string dataDir, DurableFileWriter writer, long freshBytesLimit = DefaultFreshBytesLimit)
    {
        _writer = writer;
        _freshBytesLimit = freshBytesLimit;
        _root = Path.Combine(dataDir, "spool");
        _tmp = Path.Combine(_root, "tmp");
        Directory.CreateDirectory(_tmp);
        // A body in tmp/ was never acknowledged: whatever a crash left there can go.
        foreach (var stale in Directory.EnumerateFiles(_tmp)) File.Delete(stale);
    }

    public async Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body)
    {
        var paths = owners.Select(o => PathOf(queueId, o)).ToArray();
        await _writer.CommitAsync(Path.Combine(_tmp, queueId), paths, trace, body).ConfigureAwait(false);
        var size = (long)(trace.Length + body.Length) * paths.Length;
        if (Interlocked.Add(ref _freshBytes, size) > _freshBytesLimit)
        {
            Interlocked.Add(ref _freshBytes, -size);
            return;
        }
        var content = GC.AllocateUninitializedArray<byte>(trace.Length + body.Length);
        trace.CopyTo(content);
        body.CopyTo(content.AsMemory(trace.Length));
        foreach (var path in paths) _fresh[path] = content;
    }

    public async Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct)
    {
        if (TakeFresh(PathOf(queueId, owner)) is { } fresh) return fresh;
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
        var path = PathOf(queueId, owner);
        TakeFresh(path);
        File.Delete(path);
        return Task.CompletedTask;
    }

    private byte[]? TakeFresh(string path)
    {
        if (!_fresh.TryRemove(path, out var content)) return null;
        Interlocked.Add(ref _freshBytes, -content.Length);
        return content;
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
