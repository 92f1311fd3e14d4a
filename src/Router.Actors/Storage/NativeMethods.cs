using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Router.Actors.Storage;

/// <summary>The few libc calls .NET does not expose: directory handles, fsync of them, fdatasync(2) and syncfs(2).</summary>
internal static partial class NativeMethods
{
    private const int ORdonly = 0;
    private const int ODirectory = 0x10000; // Linux x86-64 and arm64

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int Syncfs(int fd);

    public static int OpenDirectory(string path)
    {
        var fd = Open(path, ORdonly | ODirectory);
        if (fd < 0) throw new IOException($"open({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        return fd;
    }

    public static void CloseDirectory(int fd) => Close(fd);

    /// <summary>Flushes every dirty page and the journal of the file system holding <paramref name="fd"/>.</summary>
    public static void SyncFileSystem(int fd)
    {
        if (Syncfs(fd) != 0) throw new IOException($"syncfs failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Makes a file's data durable, and its size (fdatasync(2)): one flush for an appended batch.</summary>
    public static void SyncData(SafeFileHandle file)
    {
        if (Fdatasync(file) != 0) throw new IOException($"fdatasync failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Makes a directory's entries (creations, renames) durable.</summary>
    public static void SyncDirectory(string path)
    {
        var fd = OpenDirectory(path);
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            Close(fd);
        }
    }
}
