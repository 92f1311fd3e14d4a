using System.IO.Hashing;

namespace Router.Actors.Storage;

/// <summary>
/// Group commit for Maildir delivery: qmail's protocol (write in <c>tmp/</c>, make durable, link
/// into <c>new/</c>, remove the <c>tmp/</c> name), batched. Every request waiting when a batch
/// starts is written to <c>tmp/</c> under its final name plus a CRC-32 of its content; one flush
/// (syncfs(2), or an fsync per file and per directory) makes the batch durable there; each file is
/// then linked into <c>new/</c> and acknowledged. Those links become durable with the next flush
/// (the next batch's, or one of their own when no batch follows within 10 ms), and only then are the
/// <c>tmp/</c> names removed. So an acknowledged file always has a durable name, in <c>tmp/</c>
/// with its checksum or in <c>new/</c>, and a batch costs one flush rather than two (before and
/// after a rename). After a crash, the constructor finishes the work (<see cref="Recover"/>).
/// That needs this writer to be the only one in the Maildirs: where several nodes write into one
/// shared folder (a cluster), another node's file in <c>tmp/</c> may be one it is still writing,
/// so there each batch is flushed a second time after its links, before the acknowledgements, and
/// nothing is recovered. One thread does the writing, so batches form naturally while the previous
/// one is flushing.
/// </summary>
public sealed class DurableFileWriter : IDisposable
{
    private const string ChecksumMark = ".crc32-";
    private const int ChecksumSuffix = 15; // ".crc32-" and eight hex digits
    private static readonly TimeSpan IdleFlushDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>Requests not yet taken by the writer thread; guarded by itself, which the thread waits on.</summary>
    private readonly Queue<FileCommit> _queue = new();
    private bool _closed;
    private readonly bool _useSyncfs;
    private readonly bool _shared;
    private readonly bool _dropWrittenPages;
    private readonly int _maxBatch;
    private readonly Thread _thread;
    private int _rootFd = -1;

    /// <param name="root">The Maildir root (<c>&lt;root&gt;/&lt;domain&gt;/&lt;user&gt;/</c>); its file system is flushed by syncfs.</param>
    /// <param name="shared">Other processes (cluster nodes) write into the same Maildirs.</param>
    /// <param name="dropWrittenPages">
    /// Each file's pages leave the page cache once flushed (router.storage.drop-written-pages): the
    /// message is read later, by the mail reader, if at all, and the next files reuse the freed pages
    /// instead of taking fresh memory, which costs more to touch (docs/PERFORMANCE.md).
    /// </param>
    public DurableFileWriter(string root, bool useSyncfs, int maxBatch, bool shared = false, bool dropWrittenPages = true)
    {
        _useSyncfs = useSyncfs;
        _dropWrittenPages = dropWrittenPages;
        _shared = shared;
        _maxBatch = Math.Max(1, maxBatch);
        Directory.CreateDirectory(root);
        if (_useSyncfs) _rootFd = NativeMethods.OpenDirectory(root);
        Recovery = shared ? new RecoveryResult(0, 0, 0) : Recover(root);
        _thread = new Thread(Run) { IsBackground = true, Name = "durable-file-writer" };
        _thread.Start();
    }

    /// <summary>Total batches and files committed: lets benchmarks and tests see group commit at work.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    public long Files => Interlocked.Read(ref _files);

    /// <summary>What the start found in the Maildirs' <c>tmp/</c> folders (see <see cref="Recover"/>).</summary>
    public RecoveryResult Recovery { get; }

    private long _batches;
    private long _files;

    /// <summary>
    /// Completes when the content is durable as <c>&lt;folder&gt;/tmp/&lt;name&gt;.crc32-&lt;checksum&gt;</c>
    /// and visible as <c>&lt;folder&gt;/new/&lt;name&gt;</c> (durable there with the next flush).
    /// </summary>
    public Task CommitAsync(string folder, string name, params ReadOnlyMemory<byte>[] content)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Commit(folder, name, content, error =>
        {
            if (error is null) done.TrySetResult();
            else done.TrySetException(error);
        });
        return done.Task;
    }

    /// <summary>
    /// As <see cref="CommitAsync"/>, but <paramref name="done"/> is called, with null or the error,
    /// on the writer's thread, once for the request: it must be quick and must not block (an actor's
    /// Tell). It spares the hot path a task and a thread-pool hop per file.
    /// </summary>
    public void Commit(string folder, string name, ReadOnlyMemory<byte>[] content, Action<Exception?> done)
    {
        var request = new FileCommit(folder, name, content, done);
        lock (_queue)
        {
            if (!_closed)
            {
                _queue.Enqueue(request);
                // The thread waits only when the queue is empty: one pulse per request that finds it so.
                if (_queue.Count == 1) Monitor.Pulse(_queue);
                return;
            }
        }
        done(new ObjectDisposedException(nameof(DurableFileWriter)));
    }

    public void Dispose()
    {
        lock (_queue)
        {
            _closed = true;
            Monitor.Pulse(_queue);
        }
        _thread.Join();
        if (_rootFd >= 0) NativeMethods.CloseDirectory(_rootFd);
        _rootFd = -1;
    }

    private void Run()
    {
        var batch = new List<FileCommit>(_maxBatch);
        var linked = new List<FileCommit>(); // in new/, not yet durably: their tmp/ names stay
        while (Take(batch, linked))
        {
            CommitBatch(batch, linked);
            batch.Clear();
        }
        FlushLinks(linked);
    }

    /// <summary>
    /// Waits for requests and takes up to a batch of them; false once disposed and drained. When
    /// nothing comes for a while, the last batch's links are made durable meanwhile, rather than
    /// with the next batch. Not at once: the next batch, which would then wait for that flush, is
    /// usually on its way (its senders have just been answered).
    /// </summary>
    private bool Take(List<FileCommit> batch, List<FileCommit> linked)
    {
        while (true)
        {
            lock (_queue)
            {
                if (_queue.Count == 0 && !_closed)
                {
                    if (linked.Count == 0) Monitor.Wait(_queue);
                    else Monitor.Wait(_queue, IdleFlushDelay);
                }
                if (_queue.Count > 0 || _closed)
                {
                    while (batch.Count < _maxBatch && _queue.TryDequeue(out var next)) batch.Add(next);
                    return batch.Count > 0;
                }
            }
            FlushLinks(linked);
        }
    }

    private void CommitBatch(List<FileCommit> batch, List<FileCommit> linked)
    {
        var written = new List<FileCommit>(batch.Count);
        var descriptors = new List<int>(batch.Count);
        foreach (var request in batch)
        {
            try
            {
                // The checksum is taken here, not by the caller: a session's thread serves other
                // sockets too, and a large message to many mailboxes would hold it up.
                request.NameTempFile();
                descriptors.Add(NativeMethods.WriteNewFile(request.TempPath, request.Content, sync: !_useSyncfs));
                written.Add(request);
            }
            catch (Exception e)
            {
                request.Complete(e);
            }
        }
        try
        {
            Flush(written, linked);
        }
        catch (Exception e)
        {
            foreach (var fd in descriptors) NativeMethods.CloseFile(fd, dropPages: false);
            // Durability of this batch is unknown: report failure (the client retries; a duplicate
            // is acceptable, a loss is not). The links of the batch before keep their tmp/ names
            // until a flush succeeds.
            Abandon(written, e, linked: false);
            return;
        }
        // Flushed, so clean: the pages can leave the cache (see the constructor).
        foreach (var fd in descriptors) NativeMethods.CloseFile(fd, _dropWrittenPages);
        var previous = linked.ToArray();
        linked.Clear();
        foreach (var request in written)
        {
            try
            {
                NativeMethods.Link(request.TempPath, request.FinalPath);
                linked.Add(request);
            }
            catch (Exception e)
            {
                Abandon([request], e, linked: false);
            }
        }
        if (_shared)
        {
            // Nothing finishes a shared folder's links after a crash: they are made durable first.
            try
            {
                Flush([], linked);
            }
            catch (Exception e)
            {
                Abandon(linked, e, linked: true);
                linked.Clear();
                return;
            }
        }
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _files, linked.Count);
        // A shared folder's links are durable already: their tmp/ names go before the
        // acknowledgement, so an acknowledged file never leaves one behind (nothing recovers them).
        if (_shared) RemoveTempNames(linked);
        foreach (var request in linked) request.Complete(null);
        if (_shared) linked.Clear();
        RemoveTempNames(previous);
    }

    /// <summary>Makes <paramref name="written"/> durable in tmp/ and the links of <paramref name="linked"/> durable in new/.</summary>
    private void Flush(IReadOnlyList<FileCommit> written, IReadOnlyList<FileCommit> linked)
    {
        if (_useSyncfs)
        {
            NativeMethods.SyncFileSystem(_rootFd);
            return;
        }
        // fsync mode: each file was synced when written; what is left are the directory entries.
        var directories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in written) directories.Add(Path.GetDirectoryName(request.TempPath)!);
        foreach (var request in linked) directories.Add(Path.GetDirectoryName(request.FinalPath)!);
        foreach (var directory in directories) NativeMethods.SyncDirectory(directory);
    }

    /// <summary>Makes <paramref name="linked"/> durable on their own and drops their tmp/ names; if the flush fails they stay for the next one.</summary>
    private void FlushLinks(List<FileCommit> linked)
    {
        if (linked.Count == 0) return;
        try
        {
            Flush([], linked);
        }
        catch (IOException)
        {
            return;
        }
        RemoveTempNames(linked);
        linked.Clear();
    }

    /// <summary>
    /// Fails requests that were not acknowledged and removes what they left (their new/ names too when
    /// <paramref name="linked"/>): a start after a crash must not deliver them later.
    /// </summary>
    private static void Abandon(IEnumerable<FileCommit> requests, Exception error, bool linked)
    {
        foreach (var request in requests)
        {
            if (linked) TryDelete(request.FinalPath);
            TryDelete(request.TempPath);
            request.Complete(error);
        }
    }

    private static void RemoveTempNames(IEnumerable<FileCommit> linked)
    {
        foreach (var request in linked) TryDelete(request.TempPath);
    }

    /// <summary>
    /// Finishes what a crash interrupted, in every Maildir <c>&lt;root&gt;/&lt;domain&gt;/&lt;user&gt;/</c>:
    /// a <c>tmp/</c> file of ours whose content matches its checksum was (or may have been)
    /// acknowledged, so it is linked into <c>new/</c> unless it is there or in <c>cur/</c> already; one
    /// that does not match was never made durable, so never acknowledged, and is removed. Other
    /// files in <c>tmp/</c> (a mail reader's) are left alone.
    /// </summary>
    private RecoveryResult Recover(string root)
    {
        int linked = 0, present = 0, discarded = 0;
        var done = new List<string>();
        foreach (var folder in Directory.EnumerateDirectories(root).SelectMany(Directory.EnumerateDirectories))
        {
            var tmp = Path.Combine(folder, "tmp");
            if (!Directory.Exists(tmp)) continue;
            HashSet<string>? read = null;
            foreach (var path in Directory.EnumerateFiles(tmp))
            {
                var fileName = Path.GetFileName(path);
                if (!TryParseChecksum(fileName, out var name, out var checksum)) continue;
                if (Crc32.HashToUInt32(File.ReadAllBytes(path)) != checksum)
                {
                    TryDelete(path);
                    discarded++;
                    continue;
                }
                var final = Path.Combine(folder, "new", name);
                read ??= ReadNames(Path.Combine(folder, "cur"));
                if (File.Exists(final) || read.Contains(name)) present++;
                else
                {
                    NativeMethods.Link(path, final);
                    linked++;
                }
                done.Add(path);
            }
        }
        if (done.Count > 0)
        {
            if (_useSyncfs) NativeMethods.SyncFileSystem(_rootFd);
            else foreach (var folder in done.Select(p => Path.GetDirectoryName(Path.GetDirectoryName(p))!).Distinct()) NativeMethods.SyncDirectory(Path.Combine(folder, "new"));
            foreach (var path in done) TryDelete(path);
        }
        return new RecoveryResult(linked, present, discarded);
    }

    /// <summary>The names in a Maildir's cur/ without their info part (<c>:2,S</c>).</summary>
    private static HashSet<string> ReadNames(string cur) =>
        Directory.Exists(cur)
            ? Directory.EnumerateFiles(cur).Select(p => Path.GetFileName(p).Split(':')[0]).ToHashSet(StringComparer.Ordinal)
            : [];

    private static bool TryParseChecksum(string fileName, out string name, out uint checksum)
    {
        name = "";
        checksum = 0;
        if (fileName.Length <= ChecksumSuffix || string.CompareOrdinal(fileName, fileName.Length - ChecksumSuffix, ChecksumMark, 0, ChecksumMark.Length) != 0) return false;
        if (!uint.TryParse(fileName.AsSpan(fileName.Length - 8), System.Globalization.NumberStyles.AllowHexSpecifier, null, out checksum)) return false;
        name = fileName[..^ChecksumSuffix];
        return true;
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

    private sealed record FileCommit(string Folder, string Name, ReadOnlyMemory<byte>[] Content, Action<Exception?> Done)
    {
        private bool _completed;

        public string FinalPath { get; } = Path.Combine(Folder, "new", Name);

        /// <summary>The name in tmp/: the final one plus the content's CRC-32 (<see cref="NameTempFile"/>).</summary>
        public string TempPath { get; private set; } = "";

        public void NameTempFile()
        {
            var crc = new Crc32();
            foreach (var part in Content) crc.Append(part.Span);
            TempPath = Path.Combine(Folder, "tmp", $"{Name}{ChecksumMark}{crc.GetCurrentHashAsUInt32():x8}");
        }

        /// <summary>Tells the requester once; a callback that throws must not stop the writer.</summary>
        public void Complete(Exception? error)
        {
            if (_completed) return;
            _completed = true;
            try
            {
                Done(error);
            }
            catch (Exception)
            {
            }
        }
    }
}

/// <summary>
/// What a start found in the Maildirs' tmp/ folders: complete files linked into new/ (acknowledged
/// ones whose links were not yet durable, or ones the crash caught between their write and their
/// acknowledgement), files already in new/ or cur/ (only the tmp/ name was left), and files removed
/// because their content did not match their checksum (never flushed, so never acknowledged).
/// </summary>
public sealed record RecoveryResult(int Linked, int AlreadyDelivered, int Discarded);
