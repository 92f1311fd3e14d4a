using System.Text;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// The embedded spool log: references per owner, group commit, what a restart recovers (releases
/// included, a damaged tail dropped), reclamation of segments (deleted when dead, compacted when
/// mostly dead) and the import of an earlier version's file-per-message spool.
/// </summary>
public sealed class SpoolLogTests : IDisposable
{
    private static readonly byte[] Trace = Encoding.ASCII.GetBytes("Received: from test\r\n");

    /// <summary>How long a stored message could still be acknowledged (its acceptance deadline, from the store).</summary>
    private static readonly TimeSpan AcceptWithin = TimeSpan.FromSeconds(30);

    /// <summary>A grace that lists every reference, however fresh (a cutoff a minute ahead).</summary>
    private static readonly TimeSpan Everything = TimeSpan.FromMinutes(-1);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-spool-" + Guid.NewGuid().ToString("N")[..12]);

    private string SpoolDir => Path.Combine(_root, "spool");

    private static byte[] Body(string queueId, int size = 200) =>
        Encoding.ASCII.GetBytes(("Subject: " + queueId + "\r\n\r\n").PadRight(size - 2, 'x') + "\r\n");

    private static byte[] Message(string queueId, int size = 200) => [.. Trace, .. Body(queueId, size)];

    private static Task<byte[]?> Load(SpoolLog spool, string queueId, string owner) => spool.LoadAsync(queueId, owner, CancellationToken.None);

    [Fact]
    public async Task Each_owner_holds_its_own_reference_until_it_releases_it()
    {
        using var spool = new SpoolLog(_root, maxBatch: 64);
        await spool.StoreAsync("Q1", ["a.test", "b.test"], Trace, Body("Q1"), AcceptWithin);

        Assert.Equal(Message("Q1"), await Load(spool, "Q1", "a.test"));
        Assert.Equal(Message("Q1"), await Load(spool, "Q1", "b.test"));
        Assert.Null(await Load(spool, "Q1", "c.test"));

        await spool.ReleaseAsync("Q1", "a.test");
        Assert.Null(await Load(spool, "Q1", "a.test"));
        Assert.Equal(Message("Q1"), await Load(spool, "Q1", "b.test"));
        Assert.Equal(["Q1"], await spool.ListAsync("b.test", Everything));
        Assert.Empty(await spool.ListAsync("b.test", TimeSpan.Zero));
        Assert.Empty(await spool.ListAsync("a.test", Everything));
    }

    [Fact]
    public void A_second_spool_on_the_same_folder_is_refused_until_the_first_is_closed()
    {
        var first = new SpoolLog(_root, maxBatch: 64);
        var refused = Assert.Throws<IOException>(() => new SpoolLog(_root, maxBatch: 64));
        Assert.Contains("in use by another router process", refused.Message);
        first.Dispose();
        using var second = new SpoolLog(_root, maxBatch: 64);
    }

    [Fact]
    public async Task Concurrent_stores_share_flushes()
    {
        using var spool = new SpoolLog(_root, maxBatch: 512);
        var ids = Enumerable.Range(0, 300).Select(i => $"C{i}").ToArray();
        await Task.WhenAll(ids.Select(id => Task.Run(() => spool.StoreAsync(id, ["a.test"], Trace, Body(id), AcceptWithin))));

        foreach (var id in ids) Assert.Equal(Message(id), await Load(spool, id, "a.test"));
        Assert.True(spool.Batches < ids.Length, $"{spool.Batches} flushes for {ids.Length} messages: no group commit");
    }

    [Fact]
    public async Task A_restart_recovers_every_reference_not_released()
    {
        using (var spool = new SpoolLog(_root, maxBatch: 64))
        {
            await spool.StoreAsync("Q1", ["a.test", "b.test"], Trace, Body("Q1"), AcceptWithin);
            await spool.StoreAsync("Q2", ["a.test"], Trace, Body("Q2"), AcceptWithin);
            await spool.ReleaseAsync("Q1", "a.test");
            await spool.ReleaseAsync("Q2", "a.test");
        }
        Assert.Equal([("Q1", "b.test")], SpoolLog.ReadReferences(SpoolDir));

        using var reopened = new SpoolLog(_root, maxBatch: 64);
        Assert.Equal((1, 0L), reopened.Recovered);
        Assert.Equal(1, reopened.Usage.References);
        Assert.Equal(Message("Q1"), await Load(reopened, "Q1", "b.test"));
        Assert.Null(await Load(reopened, "Q1", "a.test"));
        Assert.Null(await Load(reopened, "Q2", "a.test"));
        Assert.Equal(["Q1"], await reopened.ListAsync("b.test", Everything));
    }

    [Fact]
    public async Task A_reference_is_stale_past_its_deadline_and_grace_or_at_once_when_an_earlier_process_stored_it()
    {
        using (var spool = new SpoolLog(_root, maxBatch: 64))
        {
            await spool.StoreAsync("Old", ["a.test"], Trace, Body("Old"), AcceptWithin);
        }
        using var reopened = new SpoolLog(_root, maxBatch: 64);
        await reopened.StoreAsync("Due", ["a.test", "b.test"], Trace, Body("Due"), TimeSpan.FromMinutes(-2));
        await reopened.StoreAsync("Fresh", ["a.test"], Trace, Body("Fresh"), AcceptWithin);

        // Its sessions went with the process that stored it: whatever the grace, it is settled.
        Assert.Equal(["Old"], await reopened.ListAsync("a.test", TimeSpan.FromDays(365)));
        Assert.Equal(["Due", "Old"], (await reopened.ListAsync("a.test", TimeSpan.FromMinutes(1))).Order());
        Assert.Equal(
            [new StoredReference("Due", "a.test"), new StoredReference("Due", "b.test"), new StoredReference("Old", "a.test")],
            (await reopened.StaleReferencesAsync(TimeSpan.FromMinutes(1))).OrderBy(r => r.QueueId).ThenBy(r => r.Owner));
    }

    [Theory]
    [InlineData("cut short")]
    [InlineData("damaged")]
    public async Task A_restart_drops_a_last_write_that_is_cut_short_or_damaged(string how)
    {
        using (var spool = new SpoolLog(_root, maxBatch: 64))
        {
            await spool.StoreAsync("Q1", ["a.test"], Trace, Body("Q1"), AcceptWithin);
            await spool.StoreAsync("Q2", ["a.test"], Trace, Body("Q2"), AcceptWithin);
        }
        var segment = Path.Combine(SpoolDir, "0000000001.seg");
        var bytes = await File.ReadAllBytesAsync(segment);
        if (how == "cut short") bytes = bytes[..^10];
        else bytes[^5] ^= 0x20;
        await File.WriteAllBytesAsync(segment, bytes);

        using var reopened = new SpoolLog(_root, maxBatch: 64);
        Assert.Equal(Message("Q1"), await Load(reopened, "Q1", "a.test"));
        Assert.Null(await Load(reopened, "Q2", "a.test"));
        Assert.Equal(1, reopened.Recovered.References);
        Assert.True(reopened.Recovered.DroppedBytes > 0);
        // The log goes on after the damage: a new message survives the next restart.
        await reopened.StoreAsync("Q3", ["a.test"], Trace, Body("Q3"), AcceptWithin);
        reopened.Dispose();
        using var again = new SpoolLog(_root, maxBatch: 64);
        Assert.Equal(Message("Q3"), await Load(again, "Q3", "a.test"));
    }

    [Fact]
    public async Task A_restart_skips_a_damaged_record_in_the_middle_and_keeps_the_records_behind_it()
    {
        using (var spool = new SpoolLog(_root, maxBatch: 64))
        {
            foreach (var id in new[] { "Q1", "Q2", "Q3" }) await spool.StoreAsync(id, ["a.test"], Trace, Body(id), AcceptWithin);
        }
        var segment = Path.Combine(SpoolDir, "0000000001.seg");
        var bytes = await File.ReadAllBytesAsync(segment);
        var at = bytes.AsSpan().IndexOf("Subject: Q2"u8);
        bytes[at + 3] ^= 0x20;
        await File.WriteAllBytesAsync(segment, bytes);

        using var reopened = new SpoolLog(_root, maxBatch: 64);
        Assert.Equal(Message("Q1"), await Load(reopened, "Q1", "a.test"));
        Assert.Null(await Load(reopened, "Q2", "a.test"));
        Assert.Equal(Message("Q3"), await Load(reopened, "Q3", "a.test"));
        var (path, offset, length) = Assert.Single(reopened.Damaged);
        Assert.Equal(segment, path);
        Assert.InRange(at, offset, offset + length - 1);
        Assert.Equal((2, 0L), reopened.Recovered);
    }

    [Fact]
    public async Task Dead_segments_are_deleted_and_a_mostly_dead_one_is_compacted()
    {
        // Four 256-byte records per 1,000-byte segment: Q00-Q03 share the first one.
        var ids = Enumerable.Range(0, 20).Select(i => $"Q{i:D2}").ToArray();
        using (var spool = new SpoolLog(_root, maxBatch: 64, segmentBytes: 1000))
        {
            foreach (var id in ids) await spool.StoreAsync(id, ["a.test"], Trace, Body(id), AcceptWithin);
            var first = Path.Combine(SpoolDir, "0000000001.seg");
            Assert.True(File.Exists(first));

            foreach (var id in ids.Skip(1)) await spool.ReleaseAsync(id, "a.test");
            // A store queued after the releases is written after the compaction they queued.
            await spool.StoreAsync("barrier", ["a.test"], Trace, Body("barrier"), AcceptWithin);

            Assert.False(File.Exists(first), "the first segment, holding one live message of four, was not compacted");
            Assert.True(Directory.GetFiles(SpoolDir, "*.seg").Length <= 2, string.Join(", ", Directory.GetFiles(SpoolDir)));
            Assert.True(spool.SegmentsDeleted >= 5, $"{spool.SegmentsDeleted} segments deleted");
            Assert.Equal(Message("Q00"), await Load(spool, "Q00", "a.test"));
            Assert.Equal(["Q00", "barrier"], (await spool.ListAsync("a.test", Everything)).Order());
            // The copy keeps the original's acceptance deadline.
            Assert.Empty(await spool.ListAsync("a.test", TimeSpan.Zero));
            var files = Directory.GetFiles(SpoolDir, "*.seg");
            Assert.Equal(new SpoolUsage(files.Length, files.Sum(f => new FileInfo(f).Length), 2), spool.Usage);
        }

        using var reopened = new SpoolLog(_root, maxBatch: 64, segmentBytes: 1000);
        Assert.Equal(2, reopened.Recovered.References);
        Assert.Equal(Message("Q00"), await Load(reopened, "Q00", "a.test"));
        Assert.Null(await Load(reopened, "Q01", "a.test"));
    }

    [Fact]
    public async Task An_earlier_file_spool_is_imported()
    {
        Directory.CreateDirectory(Path.Combine(SpoolDir, "tmp"));
        await File.WriteAllBytesAsync(Path.Combine(SpoolDir, "tmp", "L0"), [1, 2, 3]);
        await File.WriteAllBytesAsync(Path.Combine(SpoolDir, "L1@a.test"), Message("L1"));
        await File.WriteAllBytesAsync(Path.Combine(SpoolDir, "L1@b.test"), Message("L1"));

        using (var spool = new SpoolLog(_root, maxBatch: 64))
        {
            Assert.Equal(Message("L1"), await Load(spool, "L1", "a.test"));
            Assert.Equal(Message("L1"), await Load(spool, "L1", "b.test"));
            Assert.DoesNotContain(Directory.GetFiles(SpoolDir), f => f.Contains('@', StringComparison.Ordinal));
            Assert.False(Directory.Exists(Path.Combine(SpoolDir, "tmp")));
        }
        using var reopened = new SpoolLog(_root, maxBatch: 64);
        Assert.Equal(Message("L1"), await Load(reopened, "L1", "a.test"));
    }

    [Fact]
    public async Task A_full_disk_fails_the_store_and_the_log_goes_on_once_space_is_freed()
    {
        // A real full file system: a 512 KiB tmpfs (the suite runs as root).
        Directory.CreateDirectory(_root);
        Run("mount", $"-t tmpfs -o size=512k tmpfs {_root}");
        _mounted = true;
        var stored = new List<string>();
        using (var spool = new SpoolLog(_root, maxBatch: 64, segmentBytes: 64 << 10))
        {
            IOException? full = null;
            for (var i = 0; i < 100 && full is null; i++)
            {
                try
                {
                    await spool.StoreAsync($"F{i}", ["a.test"], Trace, Body($"F{i}", 16 << 10), AcceptWithin);
                    stored.Add($"F{i}");
                }
                catch (IOException e)
                {
                    full = e;
                }
            }
            Assert.NotNull(full);
            Assert.InRange(stored.Count, 10, 40);

            foreach (var id in stored) await spool.ReleaseAsync(id, "a.test");
            // Within a deadline: a dead writer would leave the store waiting for ever.
            await spool.StoreAsync("after", ["a.test"], Trace, Body("after", 16 << 10), AcceptWithin).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(Message("after", 16 << 10), await Load(spool, "after", "a.test"));
        }
        using var reopened = new SpoolLog(_root, maxBatch: 64, segmentBytes: 64 << 10);
        Assert.Equal(1, reopened.Recovered.References);
        Assert.Equal(Message("after", 16 << 10), await Load(reopened, "after", "a.test"));
    }

    private bool _mounted;

    private static void Run(string program, string arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {arguments}: exit {process.ExitCode} {error}");
    }

    public void Dispose()
    {
        if (_mounted) Run("umount", _root);
        Directory.Delete(_root, recursive: true);
    }
}
