using Router.Protocol.Delivery;

namespace Router.Protocol.Tests.Delivery;

/// <summary>MX ordering rules of RFC 5321 s5.1 and the null MX of RFC 7505.</summary>
public sealed class MxSelectorTests
{
    private static IReadOnlyList<string> Names(MxSelection s) => s.Hosts.Select(h => h.Exchange).ToList();

    [Fact]
    public void Hosts_are_ordered_by_preference_lowest_first()
    {
        var selection = MxSelector.Select([new(30, "c.example."), new(10, "a.example."), new(20, "b.example.")], new Random(1));

        Assert.False(selection.IsNullMx);
        Assert.Equal(["a.example", "b.example", "c.example"], Names(selection));
        Assert.Equal([10, 20, 30], selection.Hosts.Select(h => h.Preference));
    }

    [Fact]
    public void Equal_preferences_are_shuffled_by_the_given_random()
    {
        MxRecord[] records = [new(10, "a.example"), new(10, "b.example"), new(10, "c.example"), new(5, "first.example")];
        var orders = new HashSet<string>();
        for (var seed = 0; seed < 50; seed++)
        {
            var names = Names(MxSelector.Select(records, new Random(seed)));
            Assert.Equal("first.example", names[0]);
            Assert.Equal(["a.example", "b.example", "c.example"], names.Skip(1).Order());
            orders.Add(string.Join(',', names));
        }

        Assert.Equal(6, orders.Count); // every order of the three equal hosts shows up
    }

    [Fact]
    public void The_same_seed_gives_the_same_order()
    {
        MxRecord[] records = [new(10, "a.example"), new(10, "b.example"), new(10, "c.example")];

        Assert.Equal(Names(MxSelector.Select(records, new Random(7))), Names(MxSelector.Select(records, new Random(7))));
    }

    [Fact]
    public void At_most_max_hosts_are_kept_best_first()
    {
        var records = Enumerable.Range(1, 8).Select(i => new MxRecord(i, $"mx{i}.example")).Reverse();

        var selection = MxSelector.Select(records, new Random(1), maxHosts: 3);

        Assert.Equal(["mx1.example", "mx2.example", "mx3.example"], Names(selection));
    }

    [Fact]
    public void The_default_limit_is_five_hosts()
    {
        var records = Enumerable.Range(1, 8).Select(i => new MxRecord(i, $"mx{i}.example"));

        Assert.Equal(5, MxSelector.Select(records, new Random(1)).Hosts.Count);
    }

    [Fact]
    public void Duplicate_exchanges_keep_their_best_preference_only()
    {
        var selection = MxSelector.Select([new(20, "MX.example."), new(10, "mx.example"), new(15, "other.example")], new Random(1));

        Assert.Equal(["mx.example", "other.example"], Names(selection));
        Assert.Equal(10, selection.Hosts[0].Preference);
    }

    [Fact]
    public void A_single_dot_exchange_is_a_null_mx()
    {
        var selection = MxSelector.Select([new(0, ".")], new Random(1));

        Assert.True(selection.IsNullMx);
        Assert.Empty(selection.Hosts);
    }

    [Fact]
    public void A_dot_beside_real_hosts_is_ignored_not_a_null_mx()
    {
        var selection = MxSelector.Select([new(0, "."), new(10, "mx.example")], new Random(1));

        Assert.False(selection.IsNullMx);
        Assert.Equal(["mx.example"], Names(selection));
    }

    [Fact]
    public void No_records_means_the_implicit_mx()
    {
        var selection = MxSelector.Select([], new Random(1));

        Assert.True(selection.IsImplicit);
        Assert.False(selection.IsNullMx);
    }
}
