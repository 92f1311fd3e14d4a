using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>The free-space check before MAIL (Postfix's queue_minfree) answers from a real figure from the first MAIL on.</summary>
public sealed class StorageSpaceTests
{
    [Fact]
    public void The_first_MAIL_after_a_start_is_already_checked()
    {
        var folder = Path.GetTempPath();
        var free = new DriveInfo(folder).AvailableFreeSpace;

        Assert.False(new StorageSpace([folder], minimumFree: free * 2).HasRoomFor(0, out var available));
        Assert.InRange(available, 1, free * 2 - 1);
        Assert.True(new StorageSpace([folder], minimumFree: 1).HasRoomFor(0, out _));
    }
}
