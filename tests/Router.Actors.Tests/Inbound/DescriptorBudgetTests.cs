using Router.Actors.Smtp;

namespace Router.Actors.Tests.Inbound;

/// <summary>The connections the open-file limit leaves room for: the limit, less what is open, less a reserve of an eighth (at least 256).</summary>
public sealed class DescriptorBudgetTests
{
    [Theory]
    [InlineData(1_048_576, 300, 1000, null)] // systemd's and Docker's usual limits: no cap
    [InlineData(524_288, 300, 0, 458_452)] // no limit configured: the room is the limit
    [InlineData(4096, 300, 1000, null)]
    [InlineData(4096, 300, 5000, 3284)] // 4096 - 300 - 512
    [InlineData(1024, 300, 1000, 468)] // 1024 - 300 - 256
    [InlineData(1024, 300, 468, null)]
    [InlineData(500, 300, 1000, 1)] // no room at all: one connection, not none
    public void The_cap_is_the_room_the_limit_leaves(long limit, int inUse, int configured, int? cap) =>
        Assert.Equal(cap, DescriptorBudget.Cap(limit, inUse, configured));
}
