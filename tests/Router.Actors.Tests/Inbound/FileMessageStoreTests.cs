using System.Text;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// The embedded spool: a body is durable under one name per owner, each owner's first read of a
/// fresh message comes from memory (so the file is not read back right after it was written),
/// later reads come from the file, and a release drops both.
/// </summary>
public sealed class FileMessageStoreTests : IDisposable
{
    private static readonly byte[] Trace = Encoding.ASCII.GetBytes("Received: from test\r\n");
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nhello\r\n");

    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-store-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly DurableFileWriter _writer;

    public FileMessageStoreTests()
    {
        _writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 64);
    }

    private string SpoolFile(string queueId, string owner) => Path.Combine(_root, "spool", $"{queueId}@{owner}");

    [Fact]
    public async Task Each_owner_reads_a_fresh_message_once_from_memory_then_from_its_file()
    {
        var store = new FileMessageStore(_root, _writer);
        await store.StoreAsync("Q1", ["a.test", "b.test"], Trace, Body);
        var expected = Trace.Concat(Body).ToArray();
        Assert.Equal(expected, await File.ReadAllBytesAsync(SpoolFile("Q1", "a.test")));
        Assert.Equal(expected, await File.ReadAllBytesAsync(SpoolFile("Q1", "b.test")));

        // With a.test's file gone, its first read still succeeds (memory); the second needs the file.
        File.Delete(SpoolFile("Q1", "a.test"));
        Assert.Equal(expected, await store.LoadAsync("Q1", "a.test", CancellationToken.None));
        Assert.Null(await store.LoadAsync("Q1", "a.test", CancellationToken.None));

        Assert.Equal(expected, await store.LoadAsync("Q1", "b.test", CancellationToken.None));
        Assert.Equal(expected, await store.LoadAsync("Q1", "b.test", CancellationToken.None));
        await store.ReleaseAsync("Q1", "b.test");
        Assert.False(File.Exists(SpoolFile("Q1", "b.test")));
        Assert.Null(await store.LoadAsync("Q1", "b.test", CancellationToken.None));
    }

    [Fact]
    public async Task A_release_before_the_first_read_drops_the_copy_in_memory()
    {
        var store = new FileMessageStore(_root, _writer);
        await store.StoreAsync("Q2", ["a.test"], Trace, Body);
        await store.ReleaseAsync("Q2", "a.test");
        Assert.Null(await store.LoadAsync("Q2", "a.test", CancellationToken.None));
    }

    [Fact]
    public async Task Messages_beyond_the_memory_limit_are_read_from_their_files()
    {
        var store = new FileMessageStore(_root, _writer, freshBytesLimit: Trace.Length + Body.Length);
        await store.StoreAsync("Q3", ["a.test"], Trace, Body);
        await store.StoreAsync("Q4", ["a.test"], Trace, Body);
        File.Delete(SpoolFile("Q3", "a.test"));
        File.Delete(SpoolFile("Q4", "a.test"));

        Assert.NotNull(await store.LoadAsync("Q3", "a.test", CancellationToken.None));
        Assert.Null(await store.LoadAsync("Q4", "a.test", CancellationToken.None));
    }

    public void Dispose()
    {
        _writer.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
