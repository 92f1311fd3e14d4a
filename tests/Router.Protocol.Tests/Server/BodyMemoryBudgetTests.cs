namespace Router.Protocol.Tests.Server;

/// <summary>
/// The bodies being received share one memory budget: each buffer counts the array it holds, a
/// growth past the budget is refused (the reader then keeps reading to the end of data and
/// reports <see cref="DataViolation.OutOfMemoryBudget"/>), and a disposed buffer gives it all back.
/// </summary>
public sealed class BodyMemoryBudgetTests
{
    private static byte[] Line(int length) => Bytes.Ascii(new string('x', length - 2) + "\r\n");

    [Fact]
    public void A_buffer_counts_the_array_it_holds_and_gives_it_back_when_disposed()
    {
        var budget = new BodyMemoryBudget(1 << 20);
        var buffer = new BodyBuffer(16 * 1024, budget);
        Assert.Equal(16 * 1024, budget.Used);

        for (var i = 0; i < 100; i++) Assert.True(buffer.TryWrite(Line(1000)));
        Assert.Equal(128 * 1024, budget.Used); // 100,000 bytes in the next power of two
        Assert.Equal(100_000, buffer.Length);

        buffer.Dispose();
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void A_growth_past_the_budget_is_refused_and_what_was_written_stays()
    {
        var budget = new BodyMemoryBudget(64 * 1024);
        using var buffer = new BodyBuffer(16 * 1024, budget);
        var written = 0;
        while (buffer.TryWrite(Line(1000))) written += 1000;

        Assert.Equal(65_000, written); // 64 KiB held; the next growth (to 128 KiB) is refused
        Assert.Equal(written, buffer.Length);
        Assert.Equal(64 * 1024, budget.Used);
    }

    [Fact]
    public void Buffers_share_the_budget_and_one_disposed_lets_another_grow()
    {
        var budget = new BodyMemoryBudget(90 * 1024);
        var first = new BodyBuffer(16 * 1024, budget);
        using var second = new BodyBuffer(16 * 1024, budget);
        Assert.True(first.TryWrite(new byte[60_000])); // first: 64 KiB, second: 16 KiB
        Assert.False(second.TryWrite(new byte[20_000])); // second would need 32 KiB: 96 KiB in all

        first.Dispose();
        Assert.True(second.TryWrite(new byte[20_000]));
        Assert.Equal(32 * 1024, budget.Used);
    }

    [Fact]
    public void A_body_the_budget_cannot_hold_is_read_to_its_end_and_refused_as_a_temporary_failure()
    {
        var budget = new BodyMemoryBudget(32 * 1024);
        using var body = new BodyBuffer(16 * 1024, budget);
        var reader = DataReaderHarness.Data(maxSize: 10 << 20);
        var text = string.Concat(Enumerable.Repeat(new string('y', 998) + "\r\n", 100));
        var wire = Bytes.Ascii(text + ".\r\nQUIT\r\n");

        var consumed = reader.Read(wire, body);

        Assert.True(reader.IsComplete);
        Assert.Equal(wire.Length - "QUIT\r\n".Length, consumed); // stopped at the real end, not before
        Assert.Equal(DataViolation.OutOfMemoryBudget, reader.Violation);
        Assert.Equal(100_000, reader.Size);
        Assert.True(budget.Used <= budget.Limit);
    }

    [Fact]
    public void Without_a_budget_a_buffer_grows_as_it_needs()
    {
        using var buffer = new BodyBuffer(16);
        Assert.True(buffer.TryWrite(new byte[5_000_000]));
        Assert.Equal(5_000_000, buffer.Length);
    }
}
