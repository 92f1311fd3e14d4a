using System.Threading.Channels;

namespace Router.Actors.Storage;

/// <summary>
/// Group commit for Maildir files (and any other file written whole): every request waiting when a batch
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
    private int _rootFd = -1;

    /// <param name="root">The folder that holds every file written; its file system is flushed by syncfs.</param>
    public DurableFileWriter(string root, bool useSyncfs, int maxBatch)
    {
        _useSyncfs = useSyncfs;
        _maxBatch = Math.Max(1, maxBatch);
        Directory.CreateDirectory(root);
        if (_useSyncfs) _rootFd = NativeMethods.OpenDirectory(root);
        _thread = new Thread(Run) { IsBackground = true, Name = "durable-file-writer" };
        _thread.Start();
    }

    /// <summary>Total batches and files committed: lets benchmarks and tests see group commit at work.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    public long Files => Interlocked.Read(ref _files);

    private long _batches;
    private long _files;

    /// <summary>Completes when the file is durable under <paramref name="finalPath"/>.</summary>
    public Task CommitAsync(string tempPath, string finalPath, params ReadOnlyMemory<byte>[] content)
    {
        var request = new FileCommit(tempPath, finalPath, content);
        if (!_queue.Writer.TryWrite(request)) request.Done.TrySetException(new ObjectDisposedException(nameof(DurableFileWriter)));
        return request.Done.Task;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _thread.Join();
        if (_rootFd >= 0) NativeMethods.CloseDirectory(_rootFd);
        _rootFd = -1;
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
                NativeMethods.WriteNewFile(request.TempPath, request.Content, sync: !_useSyncfs);
                written.Add(request);
            }
            catch (Exception e)
            {
                request.Done.TrySetException(e);
            }
        }
        try
        {
            if (_useSyncfs) NativeMethods.SyncFileSystem(_rootFd);
            var directories = new HashSet<string>();
            foreach (var request in written)
            {
                NativeMethods.Rename(request.TempPath, request.FinalPath);
                if (!_useSyncfs) directories.Add(Path.GetDirectoryName(request.FinalPath)!);
            }
            if (_useSyncfs) NativeMethods.SyncFileSystem(_rootFd);
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
                TryDelete(request.FinalPath);
                request.Done.TrySetException(e);
            }
        }
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

    private sealed record FileCommit(string TempPath, string FinalPath, ReadOnlyMemory<byte>[] Content)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
