using System.Globalization;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Admin;

/// <summary>
/// The admin endpoint reads no configuration files and watches no folder. ASP.NET Core's default
/// builders watch the working directory recursively for appsettings.json: with the data folder
/// under it, as `scripts/run.sh` has it, every Maildir file sent the router inotify events, and a
/// router started in / would have put a watch on every folder of the machine.
/// </summary>
public sealed class AdminWorkingDirectoryTests
{
    [Fact]
    public async Task With_the_admin_endpoint_on_no_folder_under_the_working_directory_is_watched()
    {
        var http = TestPorts.Next();
        using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = $"router.http.endpoint = \"127.0.0.1:{http}\"" });
        await router.WaitForOutputAsync("router: admin", TimeSpan.FromSeconds(30));
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") })
        {
            Assert.Equal("ok\n", await client.GetStringAsync("/health"));
        }
        await using (var c = await router.ConnectEhloAsync())
        {
            await TestMessages.SendAsync(c, TestMessages.Create(TestMessages.NewToken(), "demo@example.test"), "a@client.test", ["demo@example.test"]);
        }
        Assert.StartsWith(router.Folder, router.MaildirRoot, StringComparison.Ordinal);

        var (exit, stdout, stderr) = await ExternalProgram.RunAsync("find", null, router.Folder, "-type", "d", "-printf", "%i\n");
        Assert.True(exit == 0, stderr);
        var folders = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(i => ulong.Parse(i, CultureInfo.InvariantCulture)).ToHashSet();
        var watched = InotifyWatches(router.Pid).Where(folders.Contains).ToList();
        Assert.True(watched.Count == 0, $"{watched.Count} of the {folders.Count} folders under the working directory are watched (inotify)");
    }

    /// <summary>The inode numbers the process's inotify instances watch (/proc/PID/fdinfo: "inotify wd:1 ino:1a2b ...").</summary>
    private static IEnumerable<ulong> InotifyWatches(int pid)
    {
        foreach (var info in Directory.GetFiles($"/proc/{pid}/fdinfo"))
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(info);
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }
            foreach (var line in lines.Where(l => l.StartsWith("inotify wd:", StringComparison.Ordinal)))
            {
                var ino = line.Split(' ').First(f => f.StartsWith("ino:", StringComparison.Ordinal))[4..];
                yield return ulong.Parse(ino, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }
    }
}
