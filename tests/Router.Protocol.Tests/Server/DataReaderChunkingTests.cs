using static Router.Protocol.Tests.Server.DataReaderHarness;

namespace Router.Protocol.Tests.Server;

/// <summary>
/// TCP gives no record boundaries: the outcome of reading DATA must not depend on how the bytes
/// were split into reads. Each input is fed whole, byte by byte, cut at every offset and cut at random.
/// </summary>
public sealed class DataReaderChunkingTests
{
    public static TheoryData<string, BareLineEndings> Inputs => new()
    {
        { "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", BareLineEndings.Reject },
        { "..stuffed\r\n...\r\n..\r\n.\r\n", BareLineEndings.Reject },
        { ".\r\n", BareLineEndings.Reject },
        { "a\r\n.\r\rb\r\n.\r\nNOOP\r\n", BareLineEndings.Reject },
        { "x\n.\ny\r\n.\n\r\n.\r\nz\r.\r\r\n.\r\r\n.\r\nRSET\r\n", BareLineEndings.Reject },
        { "x\n.\ny\r\n.\n\r\n.\r\nz\r.\r\r\n.\r\r\n.\r\nRSET\r\n", BareLineEndings.Normalize },
        { "x\n.\ny\r\n.\n\r\n.\r\nz\r.\r\r\n.\r\r\n.\r\nRSET\r\n", BareLineEndings.Keep },
        { "a\r\n.\r\rb\r\n.\r\nNOOP\r\n", BareLineEndings.Keep },
        { "nul\0here\r\n.\r\n", BareLineEndings.Reject },
        { "nul\0here\r\n.\r\n", BareLineEndings.Keep },
        { "ends with cr\r", BareLineEndings.Reject },
        { "no end yet\r\n.", BareLineEndings.Reject },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void One_byte_at_a_time_gives_the_same_outcome(string wire, BareLineEndings bareLineEndings)
    {
        Assert.Equal(Feed(Data(bareLineEndings: bareLineEndings), wire), FeedBytewise(Data(bareLineEndings: bareLineEndings), wire));
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_single_cut_gives_the_same_outcome(string wire, BareLineEndings bareLineEndings)
    {
        var expected = Feed(Data(bareLineEndings: bareLineEndings), wire);
        for (var cut = 0; cut <= wire.Length; cut++)
        {
            Assert.Equal(expected, FeedSplit(Data(bareLineEndings: bareLineEndings), wire, [cut]));
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_pair_of_cuts_gives_the_same_outcome(string wire, BareLineEndings bareLineEndings)
    {
        var expected = Feed(Data(bareLineEndings: bareLineEndings), wire);
        for (var a = 0; a <= wire.Length; a++)
        {
            for (var b = a; b <= wire.Length; b++)
            {
                Assert.Equal(expected, FeedSplit(Data(bareLineEndings: bareLineEndings), wire, [a, b]));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Random_cuts_give_the_same_outcome(string wire, BareLineEndings bareLineEndings)
    {
        var expected = Feed(Data(bareLineEndings: bareLineEndings), wire);
        var random = new Random(5321);
        for (var round = 0; round < 500; round++)
        {
            var cuts = Enumerable.Range(0, random.Next(1, 8)).Select(_ => random.Next(wire.Length + 1)).Order().ToArray();
            Assert.Equal(expected, FeedSplit(Data(bareLineEndings: bareLineEndings), wire, cuts));
        }
    }

    [Fact]
    public void Large_body_with_random_cuts_is_stored_exactly()
    {
        var random = new Random(821);
        var lines = Enumerable.Range(0, 2000).Select(i => (i % 7 == 0 ? "." : "") + new string((char)('a' + i % 26), random.Next(0, 120))).ToArray();
        var body = string.Concat(lines.Select(l => l + "\r\n"));
        var wire = string.Concat(lines.Select(l => (l.StartsWith('.') ? "." : "") + l + "\r\n")) + ".\r\n";
        var cuts = Enumerable.Range(0, 300).Select(_ => random.Next(wire.Length + 1)).Distinct().Order().ToArray();
        var outcome = FeedSplit(Data(maxSize: long.MaxValue), wire, cuts);
        Assert.True(outcome.Complete);
        Assert.Equal(DataViolation.None, outcome.Violation);
        Assert.Equal(body, outcome.Body);
    }

    [Fact]
    public void Random_inputs_read_the_same_whatever_the_cuts()
    {
        // Whole reads take the multi-line fast path, single bytes never do: they must agree on everything,
        // including near the size and line-length limits.
        string[] tokens = ["x", "ab", ".", "\r", "\n", "\r\n", "\0", ".\r\n", "\r\n.", "\r\n..", new string('y', 500)];
        var random = new Random(3030);
        for (var round = 0; round < 4500; round++)
        {
            var wire = string.Concat(Enumerable.Range(0, random.Next(1, 25)).Select(_ => tokens[random.Next(tokens.Length)]));
            var maxSize = random.Next(3) == 0 ? random.Next(wire.Length + 2) : long.MaxValue;
            var dotTransparency = random.Next(3) != 0;
            var bareLineEndings = (BareLineEndings)random.Next(3);
            var whole = Feed(new DataReader(maxSize, dotTransparency, bareLineEndings), wire);
            var bytewise = FeedBytewise(new DataReader(maxSize, dotTransparency, bareLineEndings), wire);
            // After a violation the body is discarded; how much of it was kept before TooLarge depends on the reads.
            if (whole.Violation != DataViolation.None) bytewise = bytewise with { Body = whole.Body };
            Assert.Equal(whole, bytewise);
            var cuts = Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(wire.Length + 1)).Order().ToArray();
            var split = FeedSplit(new DataReader(maxSize, dotTransparency, bareLineEndings), wire, cuts);
            if (whole.Violation != DataViolation.None) split = split with { Body = whole.Body };
            Assert.Equal(whole, split);
        }
    }

    [Theory]
    [InlineData(10, DataViolation.TooLarge)]
    [InlineData(998, DataViolation.LineTooLong)]
    [InlineData(5000, DataViolation.LineTooLong)]
    public void Line_and_size_limits_broken_together_report_the_earlier_byte(long maxSize, DataViolation expected)
    {
        var wire = new string('x', 2000) + "\r\n.\r\n";
        Assert.Equal(expected, Feed(Data(maxSize), wire).Violation);
        Assert.Equal(expected, FeedBytewise(Data(maxSize), wire).Violation);
        Assert.Equal(expected, FeedSplit(Data(maxSize), wire, [5, 1500]).Violation);
    }
}
