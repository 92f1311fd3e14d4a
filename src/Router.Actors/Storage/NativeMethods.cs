using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Router.Actors.Storage;

/// <summary>
/// The few libc calls .NET does not expose (directory handles, fsync of them, fdatasync(2),
/// syncfs(2), link(2), posix_fadvise(2)), and a bare create-and-write for whole files:
/// File.OpenHandle adds an fstat and an flock per file, which the Maildir writer would pay per message.
/// </summary>
internal static partial class NativeMethods
{
    private const int ORdonly = 0;
    private const int ODirectory = 0x10000; // Linux x86-64 and arm64

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    private static unsafe partial nint Pwritev(int fd, IoVec* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkFile(string existing, string name);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(int fd, long offset, long length, int advice);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int Syncfs(int fd);

    /// <summary>
    /// Creates <paramref name="path"/>, which must not exist (mode 0600), writes <paramref name="parts"/>
    /// one after the other with one gathered write, fsyncs it when <paramref name="sync"/>, and returns
    /// its descriptor, for <see cref="CloseFile"/>; a file it created but could not complete is closed
    /// and removed.
    /// </summary>
    public static unsafe int WriteNewFile(string path, ReadOnlyMemory<byte>[] parts, bool sync)
    {
        const int flags = 0x1 | 0x40 | 0x80 | 0x80000; // O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC (Linux)
        var fd = Open(path, flags, 0x180);
        if (fd < 0) throw new IOException($"open({path}) failed: {LastError()}");
        var pins = new System.Buffers.MemoryHandle[parts.Length];
        var complete = false;
        try
        {
            var iov = stackalloc IoVec[parts.Length];
            long total = 0;
            for (var i = 0; i < parts.Length; i++)
            {
                pins[i] = parts[i].Pin();
                iov[i] = new IoVec((byte*)pins[i].Pointer, (nuint)parts[i].Length);
                total += parts[i].Length;
            }
            // A regular file takes a gathered write whole unless the disk is full or an I/O error occurs;
            // a short count is reported like those.
            var written = Pwritev(fd, iov, parts.Length, 0);
            if (written != total) throw new IOException($"write({path}) failed: {(written < 0 ? $"{LastError()}" : $"{written} of {total} bytes written")}");
            if (sync && Fsync(fd) != 0) throw new IOException($"fsync({path}) failed: {LastError()}");
            complete = true;
        }
        finally
        {
            foreach (var pin in pins) pin.Dispose();
            if (!complete)
            {
                Close(fd);
                File.Delete(path);
            }
        }
        return fd;
    }

    /// <summary>
    /// Closes a file <see cref="WriteNewFile"/> wrote. With <paramref name="dropPages"/> its pages leave
    /// the page cache first (posix_fadvise(POSIX_FADV_DONTNEED)), which drops only clean pages: call it
    /// after the flush.
    /// </summary>
    public static void CloseFile(int fd, bool dropPages)
    {
        const int DontNeed = 4; // POSIX_FADV_DONTNEED (Linux)
        // Advice only: a failure leaves the pages cached, which is no error.
        if (dropPages) _ = Fadvise(fd, 0, 0, DontNeed);
        Close(fd);
    }

    /// <summary>link(2): a second name for a file; fails if <paramref name="name"/> exists.</summary>
    public static void Link(string existing, string name)
    {
        if (LinkFile(existing, name) != 0) throw new IOException($"link({existing}, {name}) failed: {LastError()}");
    }

    public static int OpenDirectory(string path)
    {
        var fd = Open(path, ORdonly | ODirectory);
        if (fd < 0) throw new IOException($"open({path}) failed: {LastError()}");
        return fd;
    }

    public static void CloseDirectory(int fd) => Close(fd);

    /// <summary>Flushes every dirty page and the journal of the file system holding <paramref name="fd"/>.</summary>
    public static void SyncFileSystem(int fd)
    {
        if (Syncfs(fd) != 0) throw new IOException($"syncfs failed: {LastError()}");
    }

    /// <summary>Makes a file's data durable, and its size (fdatasync(2)): one flush for an appended batch.</summary>
    public static void SyncData(SafeFileHandle file)
    {
        if (Fdatasync(file) != 0) throw new IOException($"fdatasync failed: {LastError()}");
    }

    /// <summary>Makes a directory's entries (creations, renames) durable.</summary>
    public static void SyncDirectory(string path)
    {
        var fd = OpenDirectory(path);
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync({path}) failed: {LastError()}");
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>The failed call's errno as the operator reads it: "No space left on device (errno 28)".</summary>
    private static string LastError()
    {
        var errno = Marshal.GetLastPInvokeError();
        return $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly unsafe struct IoVec(byte* start, nuint length)
    {
        public readonly byte* Start = start;
        public readonly nuint Length = length;
    }
}
