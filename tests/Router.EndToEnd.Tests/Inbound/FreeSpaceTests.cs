using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// Free space where mail is written, checked at MAIL as Postfix's smtpd does: the router's data
/// folder is a real 8 MiB tmpfs (the suite runs as root), max-message-size 1 MiB, so MAIL needs
/// 1.5 MiB free plus the SIZE a client declares; with less the client gets 452 4.3.1 before it
/// sends anything, and the same session goes on once space is freed.
/// </summary>
public sealed class FreeSpaceTests : IAsyncLifetime
{
    private const long MiB = 1024 * 1024;
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "router-space-" + Guid.NewGuid().ToString("N")[..12]);
    private bool _mounted;
    private RouterProcess? _router;

    private string Filler => Path.Combine(_mount, "filler");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_mount);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", _mount);
        _mounted = true;
        _router = await RouterProcess.StartAsync(new RouterOptions
        {
            MaxMessageSize = "1MiB",
            ExtraHocon = $"router.data-dir = \"{Path.Combine(_mount, "data")}\"",
        });
    }

    public async Task DisposeAsync()
    {
        _router?.Dispose();
        if (_mounted) await RunAsync("umount", _mount);
        Directory.Delete(_mount, recursive: true);
    }

    [Fact]
    public async Task MAIL_gets_452_4_3_1_below_the_free_space_needed_and_250_once_space_is_freed()
    {
        await using var c = await _router!.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RSET", "250");

        // Leave 1 MiB free: less than the 1.5 MiB needed.
        await FillUntilFreeAsync(1 * MiB);
        await AwaitMailReplyAsync(c, "MAIL FROM:<a@remote.test>", "452 4.3.1");

        // 2 MiB free: a message of unknown size may start, one declared at 0.9 MiB may not.
        File.Delete(Filler);
        await FillUntilFreeAsync(2 * MiB);
        await AwaitMailReplyAsync(c, "MAIL FROM:<a@remote.test>", "250");
        await c.CommandAsync("RSET", "250");
        await c.CommandAsync($"MAIL FROM:<a@remote.test> SIZE={9 * MiB / 10}", "452 4.3.1");

        // Space freed: the same session sends its message.
        File.Delete(Filler);
        await AwaitMailReplyAsync(c, $"MAIL FROM:<a@remote.test> SIZE={9 * MiB / 10}", "250");
        var token = TestMessages.NewToken();
        await c.CommandAsync("RCPT TO:<alice@example.test>", "250");
        await c.CommandAsync("DATA", "354");
        await c.SendAsync(TestMessages.Create(token));
        await c.SendAsync(".\r\n");
        await c.ExpectAsync("250");
        var inbox = Path.Combine(_mount, "data", "maildir", "example.test", "alice", "new");
        Assert.Single(Directory.GetFiles(inbox), f => File.ReadAllText(f).Contains(token, StringComparison.Ordinal));
    }

    /// <summary>Writes a filler file (real blocks: tmpfs keeps no holes) until about <paramref name="free"/> bytes are left.</summary>
    private async Task FillUntilFreeAsync(long free)
    {
        var size = new DriveInfo(_mount).AvailableFreeSpace - free;
        Assert.True(size > 0, $"only {new DriveInfo(_mount).AvailableFreeSpace} bytes free before filling");
        await using var file = new FileStream(Filler, FileMode.Create, FileAccess.Write);
        var block = new byte[64 * 1024];
        for (long written = 0; written < size; written += block.Length) await file.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, size - written)));
    }

    /// <summary>The router asks the file system at most once a second: sends the command (RSET after a 250) until it gets <paramref name="expected"/>.</summary>
    private static async Task AwaitMailReplyAsync(SmtpDialog c, string command, string expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            await c.SendLineAsync(command);
            var last = (await c.ReadReplyAsync()).Lines[^1];
            if (last.StartsWith(expected, StringComparison.Ordinal)) return;
            if (last.StartsWith("250", StringComparison.Ordinal)) await c.CommandAsync("RSET", "250");
            Assert.True(DateTime.UtcNow < deadline, $"{command}: still '{last}' after 10 s, expected {expected}");
            await Task.Delay(100);
        }
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var (exit, _, stderr) = await ExternalProgram.RunAsync(program, null, args);
        Assert.True(exit == 0, $"{program} {string.Join(' ', args)}: exit {exit} {stderr}");
    }
}
