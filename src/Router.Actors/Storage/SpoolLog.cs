using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace Router.Actors.Storage;

/// <summary>
/// The embedded spool: message bodies appended to segment files (<c>&lt;data&gt;/spool/NNNNNNNNNN.seg</c>)
/// with group commit. One writer thread appends every request waiting when a batch starts with one
/// gathered write and makes them durable with one fdatasync; the first requests of the next batch
/// queue up meanwhile. No file is created or unlinked per message: on ext4 that inode churn cost
/// more CPU than everything else on the relay path together.
/// <para>
/// A record holds a queue id, its owners and the content, under a CRC-32. Each owner holds its own
/// reference, dropped by <see cref="ReleaseAsync"/>, which also appends a small release record
/// (made durable with the next batch). A segment whose references are all dropped is deleted; a
/// sealed one whose live content fell below a quarter of its size is compacted: its live records
/// are copied to the end of the log and it is deleted, so a few long-deferred messages do not pin
/// whole segments. On start the segments are read in order to rebuild the index; a record that
/// is cut short or fails its CRC at the end of a segment is a write that was never acknowledged,
/// one in the middle is damage, skipped up to the next intact record (<see cref="Damaged"/>). A reference that outlives a crash (a release not yet durable) is found and dropped
/// by its owner's orphan sweep (<see cref="ListAsync"/>).
/// </para>
/// <para>
/// Acceptance deadlines are kept in memory only: a reference found at the start belongs to a
/// message whose acceptance ended with the process that stored it (one process per spool, and
/// its sessions went with it), so it counts as past its deadline at once.
/// </para>
/// </summary>
public sealed class SpoolLog : IMessageStore, IDisposable
{
    public const long DefaultSegmentBytes = 32 << 20;

    private const uint StoreMagic = 0x31505352;   // "RSP1"
    private const uint ReleaseMagic = 0x52505352; // "RSPR"
    private const int FixedHeader = 20;           // magic, length, CRC-32, stored-at (Unix ms)
    private const string Extension = ".seg";

    /// <summary>The acceptance deadline of a reference stored by an earlier process (or version): passed.</summary>
    private const long PastDeadline = long.MinValue;

    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, Entry>> _byOwner = new(StringComparer.Ordinal);
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _dir;
    private readonly long _segmentBytes;
    private readonly int _maxBatch;
    private readonly Thread _thread;
    private readonly FileStream _lock;
    private Segment _active;
    private bool _recovered;
    private int _segmentCount;
    private long _segmentBytesTotal;
    private int _referenceCount;

    /// <param name="dataDir">The spool goes in its <c>spool</c> folder.</param>
    /// <param name="maxBatch">At most this many appends per fdatasync.</param>
    /// <param name="segmentBytes">A segment is sealed and a new one started once it holds this many bytes.</param>
    public SpoolLog(string dataDir, int maxBatch, long segmentBytes = DefaultSegmentBytes)
    {
        _dir = Path.Combine(dataDir, "spool");
        _maxBatch = Math.Max(1, maxBatch);
        _segmentBytes = segmentBytes;
        Directory.CreateDirectory(_dir);
        // One writer per spool: a second router on the same data folder would append to (and
        // truncate) the same segments. The lock is flock(2), dropped by the kernel when we exit.
        try
        {
            _lock = new FileStream(Path.Combine(_dir, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"the spool {_dir} is in use by another router process (same data-dir)", e);
        }
        var segments = Recover();
        _active = OpenSegment((segments.Count == 0 ? 0 : segments[^1].Number) + 1);
        _segmentCount = segments.Count + 1;
        _segmentBytesTotal = segments.Sum(s => s.Length);
        _recovered = true;
        foreach (var segment in segments) CheckSegment(segment);
        _thread = new Thread(Run) { IsBackground = true, Name = "spool-log-writer" };
        _thread.Start();
        ImportFileSpool();
    }

    /// <summary>What the start found: live references, and bytes at segment ends that were dropped as never acknowledged.</summary>
    public (int References, long DroppedBytes) Recovered { get; private set; }

    /// <summary>
    /// Damaged ranges the start skipped in the middle of segments (a file damaged on disk or by
    /// hand: records behind each were intact): the messages stored there are lost, and their
    /// queue entries, finding no body, return them to their senders.
    /// </summary>
    public IReadOnlyList<(string Segment, long Offset, long Length)> Damaged { get; private set; } = [];

    /// <summary>Batches written (each one fdatasync) and segments deleted: lets tests see group commit and reclamation at work.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    public long SegmentsDeleted => Interlocked.Read(ref _segmentsDeleted);

    /// <summary>Segment files, the bytes they hold and the owners' references now (exported as metrics).</summary>
    public SpoolUsage Usage
    {
        get
        {
            lock (_gate) return new SpoolUsage(_segmentCount, _segmentBytesTotal, _referenceCount);
        }
    }

    private long _batches;
    private long _segmentsDeleted;

    public Task StoreAsync(string queueId, IReadOnlyList<string> owners, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body, TimeSpan acceptWithin)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var append = new Append(queueId, owners, [trace, body], now, Replaces: null) { AcceptBy = now + (long)acceptWithin.TotalMilliseconds };
        if (!_queue.Writer.TryWrite(append)) append.Done.TrySetException(new ObjectDisposedException(nameof(SpoolLog)));
        return append.Done.Task;
    }

    public Task<byte[]?> LoadAsync(string queueId, string owner, CancellationToken ct)
    {
        Entry? entry;
        lock (_gate)
        {
            entry = Find(owner, queueId);
            if (entry is null) return Task.FromResult<byte[]?>(null);
            entry.Segment.Readers++;
        }
        try
        {
            return Task.FromResult<byte[]?>(ReadContent(entry));
        }
        catch (IOException e)
        {
            return Task.FromException<byte[]?>(e);
        }
        finally
        {
            lock (_gate)
            {
                entry.Segment.Readers--;
                CloseIfUnused(entry.Segment);
            }
        }
    }

    public Task ReleaseAsync(string queueId, string owner)
    {
        lock (_gate)
        {
            if (Detach(owner, queueId) is not { } entry) return Task.CompletedTask;
            CheckSegment(entry.Segment);
        }
        // Recorded even when the segment went with this reference: its deletion is not flushed,
        // and a segment back after a crash must not bring the message back.
        var release = new Append(queueId, [owner], [], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Replaces: null, IsRelease: true);
        _queue.Writer.TryWrite(release);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListAsync(string owner, TimeSpan grace)
    {
        var cutoff = StaleCutoff(grace);
        lock (_gate)
        {
            IReadOnlyList<string> ids = _byOwner.TryGetValue(owner, out var entries)
                ? entries.Where(e => e.Value.AcceptBy < cutoff).Select(e => e.Key).ToArray()
                : [];
            return Task.FromResult(ids);
        }
    }

    public Task<IReadOnlyList<StoredReference>> StaleReferencesAsync(TimeSpan grace)
    {
        var cutoff = StaleCutoff(grace);
        lock (_gate)
        {
            IReadOnlyList<StoredReference> references = _byOwner.Values
                .SelectMany(entries => entries.Values)
                .Where(e => e.AcceptBy < cutoff)
                .Select(e => new StoredReference(e.QueueId, e.Owner))
                .ToArray();
            return Task.FromResult(references);
        }
    }

    private static long StaleCutoff(TimeSpan grace) => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)grace.TotalMilliseconds;

    /// <summary>
    /// The references a start would recover from the segments in <paramref name="spoolDir"/>, read
    /// without opening the spool for writing (for tests and inspection of a running router's spool).
    /// </summary>
    public static IReadOnlyList<(string QueueId, string Owner)> ReadReferences(string spoolDir)
    {
        var live = new Dictionary<(string, string), bool>();
        foreach (var path in SegmentPaths(spoolDir))
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Scan(handle, (record, _, _) =>
            {
                foreach (var owner in record.Owners)
                {
                    if (record.IsRelease) live.Remove((record.QueueId, owner));
                    else live[(record.QueueId, owner)] = true;
                }
            });
        }
        return live.Keys.ToArray();
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _thread.Join();
        lock (_gate)
        {
            foreach (var segment in _byOwner.Values.SelectMany(e => e.Values).Select(e => e.Segment).Append(_active).Distinct())
            {
                segment.Handle.Dispose();
            }
        }
        _lock.Dispose();
    }

    private void Run()
    {
        var batch = new List<Append>(_maxBatch);
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batch.Count < _maxBatch && reader.TryRead(out var next))
            {
                if (next is Compact compact) batch.AddRange(CopiesOf(compact.Segment));
                else batch.Add((Append)next);
            }
            try
            {
                if (batch.Count > 0) WriteBatch(batch);
            }
            catch (Exception e)
            {
                // Never leave the writer dead: the stores fail (the clients get 451 and retry).
                foreach (var append in batch) append.Done.TrySetException(e);
            }
            batch.Clear();
        }
    }

    private void WriteBatch(List<Append> batch)
    {
        var segment = _active;
        var offsets = new long[batch.Count];
        var position = segment.Length;
        try
        {
            var buffers = new List<ReadOnlyMemory<byte>>(batch.Count * 3);
            for (var i = 0; i < batch.Count; i++)
            {
                var header = Header(batch[i]);
                buffers.Add(header);
                buffers.AddRange(batch[i].Content);
                offsets[i] = position + header.Length;
                position += BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
            }
            RandomAccess.Write(segment.Handle, buffers, segment.Length);
            NativeMethods.SyncData(segment.Handle);
        }
        catch (Exception e)
        {
            // What reached the disk is unknown: nothing of this batch is acknowledged, and the log
            // goes on in a new segment (a start stops reading this one at the damage). Should that
            // fail too, the next batch overwrites this one's bytes.
            lock (_gate)
            {
                foreach (var append in batch)
                {
                    if (append.Replaces is { } original) original.Segment.Compacting = false;
                    append.Done.TrySetException(e);
                }
            }
            TryRoll();
            return;
        }
        Interlocked.Increment(ref _batches);
        lock (_gate)
        {
            _segmentBytesTotal += position - segment.Length;
            segment.Length = position;
            for (var i = 0; i < batch.Count; i++)
            {
                var append = batch[i];
                if (append.IsRelease) continue;
                // A compaction copy counts only if the original is still referenced.
                if (append.Replaces is { } original && !ReferenceEquals(Find(original.Owner, original.QueueId), original)) continue;
                foreach (var owner in append.Owners) Reference(new Entry(segment, append.QueueId, owner, offsets[i], append.ContentLength, append.StoredAt, append.AcceptBy));
            }
        }
        if (segment.Length >= _segmentBytes) TryRoll();
        foreach (var append in batch) append.Done.TrySetResult();
    }

    /// <summary>Seals the active segment and starts the next one; should that fail, the log goes on in the active one.</summary>
    private void TryRoll()
    {
        Segment next;
        try
        {
            next = OpenSegment(_active.Number + 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        lock (_gate)
        {
            var sealedSegment = _active;
            sealedSegment.Sealed = true;
            _active = next;
            _segmentCount++;
            CheckSegment(sealedSegment);
        }
    }

    /// <summary>Copies of the sealed segment's live references, to be appended at the end of the log.</summary>
    private List<Append> CopiesOf(Segment segment)
    {
        List<Entry> live;
        lock (_gate)
        {
            live = segment.Entries.ToList();
            segment.Readers++;
        }
        try
        {
            return live.Select(e => new Append(e.QueueId, [e.Owner], [ReadContent(e)], e.StoredAt, Replaces: e) { AcceptBy = e.AcceptBy }).ToList();
        }
        catch (IOException)
        {
            // Tried again when the next reference to the segment is dropped.
            lock (_gate) segment.Compacting = false;
            return [];
        }
        finally
        {
            lock (_gate)
            {
                segment.Readers--;
                CloseIfUnused(segment);
            }
        }
    }

    // The five below run under _gate.

    private Entry? Find(string owner, string queueId) => _byOwner.GetValueOrDefault(owner)?.GetValueOrDefault(queueId);

    /// <summary>Indexes a reference, replacing an older one to the same message (a compaction copy's original).</summary>
    private void Reference(Entry entry)
    {
        if (Detach(entry.Owner, entry.QueueId) is { } previous) CheckSegment(previous.Segment);
        if (!_byOwner.TryGetValue(entry.Owner, out var ids)) _byOwner[entry.Owner] = ids = new Dictionary<string, Entry>(StringComparer.Ordinal);
        ids[entry.QueueId] = entry;
        _referenceCount++;
        entry.Segment.Entries.Add(entry);
        entry.Segment.LiveBytes += entry.Length;
    }

    private Entry? Detach(string owner, string queueId)
    {
        if (!_byOwner.TryGetValue(owner, out var ids) || !ids.Remove(queueId, out var entry)) return null;
        if (ids.Count == 0) _byOwner.Remove(owner);
        _referenceCount--;
        entry.Segment.Entries.Remove(entry);
        entry.Segment.LiveBytes -= entry.Length;
        return entry;
    }

    /// <summary>Deletes a sealed segment nobody references, or has one that is mostly dead compacted (not while the index is rebuilt).</summary>
    private void CheckSegment(Segment segment)
    {
        if (!_recovered || !segment.Sealed || segment.Deleted) return;
        if (segment.Entries.Count == 0)
        {
            segment.Deleted = true;
            _segmentCount--;
            _segmentBytesTotal -= segment.Length;
            try
            {
                File.Delete(segment.Path);
                Interlocked.Increment(ref _segmentsDeleted);
            }
            catch (IOException)
            {
                // Left for the next start: its release records say it holds nothing.
            }
            CloseIfUnused(segment);
        }
        else if (!segment.Compacting && segment.LiveBytes * 4 < segment.Length)
        {
            segment.Compacting = true;
            _queue.Writer.TryWrite(new Compact(segment));
        }
    }

    private static void CloseIfUnused(Segment segment)
    {
        if (segment.Deleted && segment.Readers == 0) segment.Handle.Dispose();
    }

    private static byte[] ReadContent(Entry entry)
    {
        var content = GC.AllocateUninitializedArray<byte>(entry.Length);
        var read = 0;
        while (read < content.Length)
        {
            var n = RandomAccess.Read(entry.Segment.Handle, content.AsSpan(read), entry.Offset + read);
            if (n == 0) throw new IOException($"spool segment {entry.Segment.Path} ends inside the message {entry.QueueId}");
            read += n;
        }
        return content;
    }

    private Segment OpenSegment(long number)
    {
        var path = Path.Combine(_dir, number.ToString("D10") + Extension);
        // A file by this name can only be left from a failed earlier attempt: nothing in it was acknowledged.
        var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            // The new name must be durable before anything acknowledged lives in it.
            NativeMethods.SyncDirectory(_dir);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return new Segment(number, path, handle);
    }

    /// <summary>Reads every segment in order and rebuilds the index; all of them end up sealed.</summary>
    private List<Segment> Recover()
    {
        var segments = new List<Segment>();
        var damage = new List<(string, long, long)>();
        long dropped = 0;
        foreach (var path in SegmentPaths(_dir))
        {
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            var segment = new Segment(long.Parse(Path.GetFileNameWithoutExtension(path)), path, handle) { Sealed = true };
            segments.Add(segment);
            var damaged = new List<(long Offset, long Length)>();
            var end = Scan(handle, (record, contentOffset, contentLength) =>
            {
                foreach (var owner in record.Owners)
                {
                    if (record.IsRelease) Detach(owner, record.QueueId);
                    else Reference(new Entry(segment, record.QueueId, owner, contentOffset, contentLength, record.StoredAt, PastDeadline));
                }
            }, damaged);
            segment.Length = end;
            dropped += RandomAccess.GetLength(handle) - end;
            damage.AddRange(damaged.Select(d => (path, d.Offset, d.Length)));
        }
        Recovered = (_referenceCount, dropped);
        Damaged = damage;
        return segments;
    }

    /// <summary>
    /// Calls <paramref name="onRecord"/> for each intact record in order and returns where the last
    /// one ends. A record that is cut short or fails its CRC is skipped up to the next intact
    /// record, and the skipped range added to <paramref name="damaged"/>: one damaged record must
    /// not take the acknowledged records behind it along. What follows the last intact record is
    /// the write a crash cut short.
    /// </summary>
    private static long Scan(SafeFileHandle handle, Action<Record, long, int> onRecord, List<(long Offset, long Length)>? damaged = null)
    {
        var fileLength = RandomAccess.GetLength(handle);
        long position = 0, end = 0;
        while (position + FixedHeader <= fileLength)
        {
            if (!TryRead(handle, position, fileLength, out var record, out var headerLength, out var length, out var contentLength))
            {
                var next = NextIntact(handle, position + 1, fileLength);
                if (next < 0) break;
                damaged?.Add((position, next - position));
                position = next;
                continue;
            }
            onRecord(record, position + 12 + headerLength, contentLength);
            position += length;
            end = position;
        }
        return end;
    }

    /// <summary>The record at <paramref name="position"/>, if it is whole, passes its CRC and parses.</summary>
    private static bool TryRead(SafeFileHandle handle, long position, long fileLength, out Record record, out int headerLength, out long length, out int contentLength)
    {
        record = default;
        headerLength = contentLength = 0;
        length = 0;
        Span<byte> fixedHeader = stackalloc byte[FixedHeader];
        if (RandomAccess.Read(handle, fixedHeader, position) < FixedHeader) return false;
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader);
        length = BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader[4..]);
        if (magic is not (StoreMagic or ReleaseMagic) || length < FixedHeader || position + length > fileLength) return false;
        var rest = GC.AllocateUninitializedArray<byte>((int)length - 12);
        if (RandomAccess.Read(handle, rest, position + 12) < rest.Length) return false;
        if (Crc32.HashToUInt32(rest) != BinaryPrimitives.ReadUInt32LittleEndian(fixedHeader[8..])) return false;
        if (!TryParse(rest, magic == ReleaseMagic, out record, out headerLength)) return false;
        contentLength = rest.Length - headerLength;
        return true;
    }

    /// <summary>Where the next intact record starts at or after <paramref name="from"/>, or -1 (read in blocks, looking for a record's magic).</summary>
    private static long NextIntact(SafeFileHandle handle, long from, long fileLength)
    {
        var block = new byte[1 << 20];
        for (var start = from; start + FixedHeader <= fileLength; start += block.Length - 3)
        {
            var read = RandomAccess.Read(handle, block, start);
            // Both magics ("RSP1", "RSPR") start with "RSP"; TryRead checks the whole record.
            var span = block.AsSpan(0, read);
            var offset = 0;
            while (span[offset..].IndexOf("RSP"u8) is var found and >= 0)
            {
                if (TryRead(handle, start + offset + found, fileLength, out _, out _, out _, out _)) return start + offset + found;
                offset += found + 1;
            }
            if (read < block.Length) break;
        }
        return -1;
    }

    /// <summary>Parses what follows magic, length and CRC: stored-at, queue id, owners.</summary>
    private static bool TryParse(ReadOnlySpan<byte> rest, bool isRelease, out Record record, out int headerLength)
    {
        record = default;
        headerLength = 0;
        var reader = new SpanReader(rest);
        if (!reader.TryInt64(out var storedAt) || !reader.TryString(out var queueId) || !reader.TryUInt16(out var count)) return false;
        var owners = new string[count];
        for (var i = 0; i < count; i++)
        {
            if (!reader.TryString(out owners[i])) return false;
        }
        record = new Record(queueId, owners, storedAt, isRelease);
        headerLength = reader.Position;
        return true;
    }

    /// <summary>Magic, total length, CRC-32 (of everything after it, content included), stored-at, queue id, owners.</summary>
    private static byte[] Header(Append append)
    {
        var size = FixedHeader + 2 + Encoding.UTF8.GetByteCount(append.QueueId) + 2 + append.Owners.Sum(o => 2 + Encoding.UTF8.GetByteCount(o));
        var header = new byte[size];
        var span = header.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, append.IsRelease ? ReleaseMagic : StoreMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], checked((uint)(size + append.ContentLength)));
        BinaryPrimitives.WriteInt64LittleEndian(span[12..], append.StoredAt);
        var at = WriteString(span, FixedHeader, append.QueueId);
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], checked((ushort)append.Owners.Count));
        at += 2;
        foreach (var owner in append.Owners) at = WriteString(span, at, owner);
        var crc = new Crc32();
        crc.Append(span[12..]);
        foreach (var part in append.Content) crc.Append(part.Span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], crc.GetCurrentHashAsUInt32());
        return header;
    }

    private static int WriteString(Span<byte> span, int at, string value)
    {
        var length = Encoding.UTF8.GetBytes(value, span[(at + 2)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], checked((ushort)length));
        return at + 2 + length;
    }

    private static IEnumerable<string> SegmentPaths(string spoolDir) =>
        Directory.Exists(spoolDir)
            ? Directory.EnumerateFiles(spoolDir, "*" + Extension)
                .Where(p => long.TryParse(Path.GetFileNameWithoutExtension(p), out _))
                .OrderBy(p => long.Parse(Path.GetFileNameWithoutExtension(p)))
            : [];

    /// <summary>
    /// Moves what an earlier version's file spool (<c>spool/&lt;queue-id&gt;@&lt;domain&gt;</c>, one file
    /// per owner) holds into the log, so an upgrade keeps the queued messages. Its <c>tmp</c>
    /// folder held only bodies that were never acknowledged.
    /// </summary>
    private void ImportFileSpool()
    {
        var tmp = Path.Combine(_dir, "tmp");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        foreach (var path in Directory.EnumerateFiles(_dir).Where(p => !p.EndsWith(Extension, StringComparison.Ordinal)).ToList())
        {
            var name = Path.GetFileName(path);
            var at = name.IndexOf('@');
            if (at <= 0 || at == name.Length - 1) continue;
            var append = new Append(name[..at], [name[(at + 1)..]], [File.ReadAllBytes(path)],
                new DateTimeOffset(File.GetLastWriteTimeUtc(path)).ToUnixTimeMilliseconds(), Replaces: null);
            _queue.Writer.TryWrite(append);
            append.Done.Task.GetAwaiter().GetResult();
            File.Delete(path);
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        private readonly ReadOnlySpan<byte> _span = span;

        public int Position { get; private set; }

        public bool TryUInt16(out ushort value)
        {
            value = 0;
            if (Position + 2 > _span.Length) return false;
            value = BinaryPrimitives.ReadUInt16LittleEndian(_span[Position..]);
            Position += 2;
            return true;
        }

        public bool TryInt64(out long value)
        {
            value = 0;
            if (Position + 8 > _span.Length) return false;
            value = BinaryPrimitives.ReadInt64LittleEndian(_span[Position..]);
            Position += 8;
            return true;
        }

        public bool TryString(out string value)
        {
            value = "";
            if (!TryUInt16(out var length) || Position + length > _span.Length) return false;
            value = Encoding.UTF8.GetString(_span.Slice(Position, length));
            Position += length;
            return true;
        }
    }

    private readonly record struct Record(string QueueId, string[] Owners, long StoredAt, bool IsRelease);

    private sealed class Segment(long number, string path, SafeFileHandle handle)
    {
        public long Number { get; } = number;
        public string Path { get; } = path;
        public SafeFileHandle Handle { get; } = handle;
        public HashSet<Entry> Entries { get; } = new(ReferenceEqualityComparer.Instance);
        public long Length { get; set; }
        public long LiveBytes { get; set; }
        public int Readers { get; set; }
        public bool Sealed { get; set; }
        public bool Compacting { get; set; }
        public bool Deleted { get; set; }
    }

    private sealed class Entry(Segment segment, string queueId, string owner, long offset, int length, long storedAt, long acceptBy)
    {
        public Segment Segment { get; } = segment;
        public string QueueId { get; } = queueId;
        public string Owner { get; } = owner;
        public long Offset { get; } = offset;
        public int Length { get; } = length;
        public long StoredAt { get; } = storedAt;

        /// <summary>Until when (Unix ms) the message could still be acknowledged; in memory only.</summary>
        public long AcceptBy { get; } = acceptBy;
    }

    private abstract record Request;

    private sealed record Compact(Segment Segment) : Request;

    private sealed record Append(string QueueId, IReadOnlyList<string> Owners, ReadOnlyMemory<byte>[] Content, long StoredAt, Entry? Replaces, bool IsRelease = false) : Request
    {
        public int ContentLength { get; } = Content.Sum(c => c.Length);

        /// <summary>Until when (Unix ms) the message could still be acknowledged: not written to the log.</summary>
        public long AcceptBy { get; init; } = PastDeadline;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>Segment files, the bytes they hold and the owners' references to messages in them.</summary>
public readonly record struct SpoolUsage(int Segments, long Bytes, int References);
