using System.IO.Hashing;
using System.Text;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// Group commit: many concurrent commits share flushes (fewer batches than files), and every file ends
/// up complete under its final name. And the start after a crash: an acknowledged file whose name in
/// new/ was not yet durable is linked from tmp/, a leftover tmp/ name of a delivered file is removed, a
/// file that does not match its checksum (never acknowledged) is removed, a reader's file is left alone;
/// but nothing of another node's when the folders are shared.
/// </summary>
public sealed class DurableFileWriterTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-writer-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly string _folder;

    public DurableFileWriterTests()
    {
        _folder = Path.Combine(_root, "example.test", "alice");
        foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(_folder, sub));
    }

    private string Tmp => Path.Combine(_folder, "tmp");

    private string New => Path.Combine(_folder, "new");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Concurrent_commits_are_grouped_and_all_files_are_present(bool useSyncfs)
    {
        const int Count = 300;
        var writer = new DurableFileWriter(_root, useSyncfs, maxBatch: 512);

        var commits = Enumerable.Range(0, Count)
            .Select(i => writer.CommitAsync(_folder, $"m{i}", Encoding.ASCII.GetBytes($"header {i}\r\n"), Encoding.ASCII.GetBytes($"body {i}\r\n")))
            .ToArray();
        await Task.WhenAll(commits).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Count, writer.Files);
        Assert.True(writer.Batches < Count, $"{writer.Batches} batches for {Count} files: no group commit");
        for (var i = 0; i < Count; i++)
        {
            Assert.Equal($"header {i}\r\nbody {i}\r\n", await File.ReadAllTextAsync(Path.Combine(New, $"m{i}")));
        }
        // The tmp/ names go once the links into new/ are durable: at the latest when the writer stops.
        writer.Dispose();
        Assert.Empty(Directory.GetFiles(Tmp));
    }

    [Fact]
    public async Task A_failed_write_fails_only_its_own_commit()
    {
        using var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512);
        var good = writer.CommitAsync(_folder, "good", "ok"u8.ToArray());
        var bad = writer.CommitAsync(Path.Combine(_root, "example.test", "missing"), "bad", "no"u8.ToArray());

        await good.WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<IOException>(() => bad.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(File.Exists(Path.Combine(New, "good")));
        Assert.False(File.Exists(Path.Combine(New, "bad")));
    }

    [Fact]
    public async Task Each_callback_runs_once_and_one_that_throws_does_not_stop_the_writer()
    {
        using var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512);
        var calls = new int[3];
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var remaining = calls.Length;
        for (var i = 0; i < calls.Length; i++)
        {
            var n = i;
            writer.Commit(_folder, $"cb{n}", ["x"u8.ToArray()], error =>
            {
                Interlocked.Increment(ref calls[n]);
                if (Interlocked.Decrement(ref remaining) == 0) all.TrySetResult();
                if (n == 0) throw new InvalidOperationException("a callback's bug");
            });
        }
        await all.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The writer lives on: a later commit is still written and answered.
        await writer.CommitAsync(_folder, "after", "y"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([1, 1, 1], calls);
        Assert.True(File.Exists(Path.Combine(New, "cb0")));
        Assert.True(File.Exists(Path.Combine(New, "after")));
    }

    [Fact]
    public async Task Commits_queued_before_dispose_are_written_and_later_ones_are_refused()
    {
        var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 4);
        var queued = Enumerable.Range(0, 20).Select(i => writer.CommitAsync(_folder, $"q{i}", "q"u8.ToArray())).ToArray();
        writer.Dispose();

        await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(20, Directory.GetFiles(New).Length);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.CommitAsync(_folder, "late", "l"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(File.Exists(Path.Combine(New, "late")));
    }

    [Fact]
    public async Task A_temporary_name_that_exists_is_not_overwritten()
    {
        using var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512);
        var taken = TempName("taken", "mine"u8);
        await File.WriteAllTextAsync(taken, "someone else's");

        var error = await Assert.ThrowsAnyAsync<IOException>(() => writer.CommitAsync(_folder, "taken", "mine"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("File exists (errno 17)", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(New, "taken")));
        Assert.Equal("someone else's", await File.ReadAllTextAsync(taken));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_start_after_a_crash_delivers_acknowledged_files_once_and_drops_partial_ones(bool useSyncfs)
    {
        // What a power loss can leave: an acknowledged file whose link into new/ was lost ...
        await File.WriteAllTextAsync(TempName("acked", "acknowledged\r\n"u8), "acknowledged\r\n");
        // ... one whose link survived but whose tmp/ name was not yet removed ...
        await File.WriteAllTextAsync(TempName("linked", "linked\r\n"u8), "linked\r\n");
        await File.WriteAllTextAsync(Path.Combine(New, "linked"), "linked\r\n");
        // ... the same, already moved to cur/ by a mail reader ...
        await File.WriteAllTextAsync(TempName("read", "read\r\n"u8), "read\r\n");
        await File.WriteAllTextAsync(Path.Combine(_folder, "cur", "read:2,S"), "read\r\n");
        // ... a file of a batch that was never flushed (so never acknowledged): not what was written ...
        await File.WriteAllTextAsync(TempName("partial", "the whole message\r\n"u8), "the wh");
        // ... and a mail reader's own temporary file.
        await File.WriteAllTextAsync(Path.Combine(Tmp, "1700000000.M1P2.reader"), "not ours");

        using var writer = new DurableFileWriter(_root, useSyncfs, maxBatch: 512);

        Assert.Equal(new RecoveryResult(Linked: 1, AlreadyDelivered: 2, Discarded: 1), writer.Recovery);
        Assert.Equal("acknowledged\r\n", await File.ReadAllTextAsync(Path.Combine(New, "acked")));
        Assert.Equal("acked linked", Names(New));
        Assert.Equal("read:2,S", Names(Path.Combine(_folder, "cur")));
        Assert.Equal("1700000000.M1P2.reader", Names(Tmp));
    }

    [Fact]
    public async Task A_writer_sharing_the_folders_leaves_other_files_alone_and_acknowledges_durable_links()
    {
        // Another node's file, complete and matching its checksum, not linked yet: it may still do so.
        var theirs = TempName("theirs", "theirs\r\n"u8);
        await File.WriteAllTextAsync(theirs, "theirs\r\n");
        using var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512, shared: true);

        await writer.CommitAsync(_folder, "mine", "mine\r\n"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(new RecoveryResult(0, 0, 0), writer.Recovery);
        Assert.Equal("mine", Names(New));
        // Its own tmp/ name is gone by the acknowledgement: the link was made durable before it.
        Assert.Equal(Path.GetFileName(theirs), Names(Tmp));
    }

    [Fact]
    public async Task A_clean_start_finds_nothing_to_recover()
    {
        using (var first = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512))
        {
            await first.CommitAsync(_folder, "one", "one\r\n"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(30));
        }
        using var second = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512);

        Assert.Equal(new RecoveryResult(0, 0, 0), second.Recovery);
        Assert.Equal("one\r\n", await File.ReadAllTextAsync(Path.Combine(New, "one")));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task A_durable_file_leaves_the_page_cache_unless_it_is_to_stay(bool useSyncfs, bool dropWrittenPages)
    {
        // On the disk, not in /tmp: a tmpfs keeps its pages whatever the advice.
        var root = Path.Combine(AppContext.BaseDirectory, "writer-cache-" + Guid.NewGuid().ToString("N")[..12]);
        var folder = Path.Combine(root, "example.test", "alice");
        foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(folder, sub));
        try
        {
            var content = new byte[256 << 10];
            Random.Shared.NextBytes(content);
            using (var writer = new DurableFileWriter(root, useSyncfs, maxBatch: 512, dropWrittenPages: dropWrittenPages))
            {
                await writer.CommitAsync(folder, "big", content).WaitAsync(TimeSpan.FromSeconds(30));
            }
            var path = Path.Combine(folder, "new", "big");

            var pages = (content.Length + Environment.SystemPageSize - 1) / Environment.SystemPageSize;
            Assert.Equal(dropWrittenPages ? 0 : pages, CachedPages(path));
            Assert.Equal(content, await File.ReadAllBytesAsync(path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>How many of a file's pages are in the page cache, by fincore(1) (util-linux).</summary>
    private static int CachedPages(string path)
    {
        var start = new System.Diagnostics.ProcessStartInfo("fincore") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--noheadings", "--raw", "--output", "PAGES", path }) start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"fincore {path}: exit {process.ExitCode} {error}");
        return int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Names(string directory) => string.Join(' ', Directory.GetFiles(directory).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal));

    /// <summary>The name under which the writer keeps <paramref name="content"/> in tmp/ until its link into new/ is durable.</summary>
    private string TempName(string name, ReadOnlySpan<byte> content) =>
        Path.Combine(Tmp, $"{name}.crc32-{Crc32.HashToUInt32(content):x8}");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
