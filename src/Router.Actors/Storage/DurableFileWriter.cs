using System.Threading.Channels;

namespace Router.Actors.Storage;

/// <summary>
/// Group commit for files (Maildir messages, spooled bodies): every request waiting when a batch
/// starts is written to its temporary name, made durable, renamed to its final name, and the
/// renames made durable, before any of them is acknowledged. With syncfs(2) a batch costs two
/// file-system flushes whatever its size; in fsync mode each file and each directory is synced.
/// One thread does the writing, so batches form naturally while the previous one is flushing.
/// </summary>
public sealed class DurableFileWriter : IDisposable
{
    private readonly Channel<FileCommit> _queue = Channel.CreateUnbounded<FileCommit>(new UnboundedChannelOptions { SingleReader = true });
    private readonly bool _useSyncfs;
    private readonly int _maxBatch;
    private readonly Thread _thread;
    private int[] _rootFds = [];

    public DurableFileWriter(string root, bool useSyncfs, int maxBatch)
        : this([root], useSyncfs, maxBatch)
    {
    }

    /// <param name="roots">Folders that hold every file written; each one's file system is flushed by syncfs.</param>
    public DurableFileWriter(IReadOnlyList<string> roots, bool useSyncfs, int maxBatch)
    {
        _useSyncfs = useSyncfs;
        _maxBatch = Math.Max(1, maxBatch);
        foreach (var root in roots) Directory.CreateDirectory(root);
        // A root inside another is on the same file system as far as we can tell cheaply: skip it.
        var distinct = roots.Select(r => Path.GetFullPath(r).TrimEnd('/') + "/").Distinct().ToList();
        distinct = distinct.Where(r => !distinct.Any(o => o != r && r.StartsWith(o, StringComparison.Ordinal))).ToList();
        if (_useSyncfs) _rootFds = distinct.Select(NativeMethods.OpenDirectory).ToArray();
        _thread = new Thread(Run) { IsBackground = true, Name = "durable-file-writer" };
        _thread.Start();
    }

    /// <summary>Total batches and files committed: lets benchmarks and tests see group commit at work.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    public long Files => Interlocked.Read(ref _files);

    private long _batches;
    private long _files;

    /// <summary>Completes when the file is durable under <paramref name="finalPath"/>.</summary>
    public Task CommitAsync(string tempPath, string finalPath, params ReadOnlyMemory<byte>[] content) =>
        CommitAsync(tempPath, [finalPath], content);

    /// <summary>
    /// Completes when the file is durable under every one of <paramref name="finalPaths"/>: one
    /// copy of the data, hard-linked under each name (all names on the writer's file system).
    /// </summary>
    public Task CommitAsync(string tempPath, IReadOnlyList<string> finalPaths, params ReadOnlyMemory<byte>[] content)
    {
        var request = new FileCommit(tempPath, finalPaths, content);
        if (!_queue.Writer.TryWrite(request)) request.Done.TrySetException(new ObjectDisposedException(nameof(DurableFileWriter)));
        return request.Done.Task;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _thread.Join();
        foreach (var fd in _rootFds) NativeMethods.CloseDirectory(fd);
        _rootFds = [];
    }

    private void Run()
    {
        var batch = new List<FileCommit>(_maxBatch);
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batch.Count < _maxBatch && reader.TryRead(out var next)) batch.Add(next);
            CommitBatch(batch);
            batch.Clear();
        }
    }

    private void CommitBatch(List<FileCommit> batch)
    {
        var written = new List<FileCommit>(batch.Count);
        foreach (var request in batch)
        {
            try
            {
                Write(request);
                written.Add(request);
            }
            catch (Exception e)
            {
                TryDelete(request.TempPath);
                request.Done.TrySetException(e);
            }
        }
        try
        {
            if (_useSyncfs) SyncAll();
            var directories = new HashSet<string>();
            foreach (var request in written)
            {
                for (var i = 1; i < request.FinalPaths.Count; i++) NativeMethods.HardLink(request.TempPath, request.FinalPaths[i]);
                File.Move(request.TempPath, request.FinalPaths[0]);
                if (!_useSyncfs)
                {
                    foreach (var path in request.FinalPaths) directories.Add(Path.GetDirectoryName(path)!);
                }
            }
            if (_useSyncfs) SyncAll();
            else foreach (var directory in directories) NativeMethods.SyncDirectory(directory);

            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _files, written.Count);
            foreach (var request in written) request.Done.TrySetResult();
        }
        catch (Exception e)
        {
            // Durability of this batch is unknown: report failure (the client retries; a duplicate
            // is acceptable, a loss is not) and leave no half-made file behind under its final name.
            foreach (var request in written)
            {
                TryDelete(request.TempPath);
                foreach (var path in request.FinalPaths) TryDelete(path);
                request.Done.TrySetException(e);
            }
        }
    }

    private void SyncAll()
    {
        foreach (var fd in _rootFds) NativeMethods.SyncFileSystem(fd);
    }

    private void Write(FileCommit request)
    {
        using var handle = File.OpenHandle(request.TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None);
        long offset = 0;
        foreach (var part in request.Content)
        {
            RandomAccess.Write(handle, part.Span, offset);
            offset += part.Length;
        }
        if (!_useSyncfs) RandomAccess.FlushToDisk(handle);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed record FileCommit(string TempPath, IReadOnlyList<string> FinalPaths, ReadOnlyMemory<byte>[] Content)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
