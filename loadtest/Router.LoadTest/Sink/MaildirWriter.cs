namespace Router.LoadTest.Sink;

/// <summary>Stores a message the Maildir way (tmp/ then rename into new/), so a reader never sees a partial file.</summary>
internal static class MaildirWriter
{
    private static long _sequence;

    public static async Task WriteAsync(string maildir, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        var name = $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.P{Environment.ProcessId}Q{Interlocked.Increment(ref _sequence)}.loadtest-sink";
        var tmp = Path.Combine(maildir, "tmp", name);
        await using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true))
        {
            await file.WriteAsync(message, ct);
        }
        File.Move(tmp, Path.Combine(maildir, "new", name));
    }

    public static void Create(string maildir)
    {
        foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(Path.Combine(maildir, sub));
    }
}
