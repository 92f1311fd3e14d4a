namespace Router.Protocol.Tests.Server;

public sealed class QueueIdTests
{
    [Fact]
    public void Ids_are_unique_over_100k_calls()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 100_000; i++) Assert.True(ids.Add(QueueId.Next()));
    }

    [Fact]
    public void Ids_have_a_fixed_length_of_18()
    {
        for (var i = 0; i < 1000; i++) Assert.Equal(18, QueueId.Next().Length);
    }

    [Fact]
    public void Ids_are_safe_in_file_names_and_headers()
    {
        for (var i = 0; i < 1000; i++) Assert.Matches("^[0-9A-Za-z]{18}$", QueueId.Next());
    }

    [Fact]
    public void Ids_are_unique_across_threads()
    {
        var ids = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        Parallel.For(0, 40_000, _ => Assert.True(ids.TryAdd(QueueId.Next(), 0)));
        Assert.Equal(40_000, ids.Count);
    }
}
