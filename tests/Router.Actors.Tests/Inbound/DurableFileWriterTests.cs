using System.Text;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>Group commit: many concurrent commits share flushes (fewer batches than files), and every file ends up complete under its final name.</summary>
public sealed class DurableFileWriterTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-writer-" + Guid.NewGuid().ToString("N")[..12]);

    public DurableFileWriterTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "tmp"));
        Directory.CreateDirectory(Path.Combine(_root, "new"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Concurrent_commits_are_grouped_and_all_files_are_present(bool useSyncfs)
    {
        const int Count = 300;
        using var writer = new DurableFileWriter(_root, useSyncfs, maxBatch: 512);

        var commits = Enumerable.Range(0, Count)
            .Select(i => writer.CommitAsync(
                Path.Combine(_root, "tmp", $"m{i}"),
                Path.Combine(_root, "new", $"m{i}"),
                Encoding.ASCII.GetBytes($"header {i}\r\n"),
                Encoding.ASCII.GetBytes($"body {i}\r\n")))
            .ToArray();
        await Task.WhenAll(commits).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Count, writer.Files);
        Assert.True(writer.Batches < Count, $"{writer.Batches} batches for {Count} files: no group commit");
        for (var i = 0; i < Count; i++)
        {
            Assert.Equal($"header {i}\r\nbody {i}\r\n", await File.ReadAllTextAsync(Path.Combine(_root, "new", $"m{i}")));
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "tmp")));
    }

    [Fact]
    public async Task A_failed_write_fails_only_its_own_commit()
    {
        using var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512);
        var good = writer.CommitAsync(Path.Combine(_root, "tmp", "good"), Path.Combine(_root, "new", "good"), "ok"u8.ToArray());
        var bad = writer.CommitAsync(Path.Combine(_root, "missing", "bad"), Path.Combine(_root, "new", "bad"), "no"u8.ToArray());

        await good.WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<IOException>(() => bad.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(File.Exists(Path.Combine(_root, "new", "good")));
        Assert.False(File.Exists(Path.Combine(_root, "new", "bad")));
    }

    [Fact]
    public async Task A_temporary_name_that_exists_is_not_overwritten()
    {
        var taken = Path.Combine(_root, "tmp", "taken");
        await File.WriteAllTextAsync(taken, "someone else's");
        using var writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 512);

        var error = await Assert.ThrowsAnyAsync<IOException>(() => writer.CommitAsync(taken, Path.Combine(_root, "new", "taken"), "mine"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("File exists (errno 17)", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_root, "new", "taken")));
        Assert.Equal("someone else's", await File.ReadAllTextAsync(taken));
    }

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
