using System.Text.RegularExpressions;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// A router started with a low open-file limit (prlimit --nofile=700) caps the connections it
/// takes at once below <c>limits.max-connections</c>, says so at start, and answers the
/// connection over the cap with 421 4.7.0: connections never take the descriptors the runtime
/// needs (out of them it cannot start a thread, and aborts).
/// </summary>
public sealed class OpenFileLimitTests
{
    [Fact]
    public async Task Connections_beyond_what_the_open_file_limit_leaves_room_for_get_421()
    {
        using var router = await RouterProcess.StartAsync(new RouterOptions
        {
            OpenFileLimit = 700,
            MaxConnections = 1000,
            ExtraHocon = "router.limits { max-connections-per-client = 0, connection-rate-per-minute = 0 }",
        });
        // Logged through Akka's logger, which may write it after the port opened.
        await router.WaitForOutputAsync("open files are limited to 700 (RLIMIT_NOFILE)", TimeSpan.FromSeconds(10));
        var warning = Regex.Match(router.Output, @"open files are limited to 700 \(RLIMIT_NOFILE\) and (\d+) are open: at most (\d+) SMTP connections at once instead of 1000");
        Assert.True(warning.Success, router.Output);
        var cap = int.Parse(warning.Groups[2].Value);
        Assert.Equal(700 - int.Parse(warning.Groups[1].Value) - 256, cap);

        var open = new List<SmtpDialog>();
        try
        {
            for (var i = 0; i < cap; i++)
            {
                var dialog = await SmtpDialog.ConnectAsync(router.Port);
                open.Add(dialog);
                await dialog.ExpectAsync("220");
            }
            await using (var over = await SmtpDialog.ConnectAsync(router.Port))
            {
                await over.ExpectAsync("421 4.7.0 Too many connections");
            }

            // One closed, one more is taken.
            await open[0].CommandAsync("QUIT", "221");
            await open[0].DisposeAsync();
            open.RemoveAt(0);
            await Eventually.UntilAsync(async () =>
            {
                var again = await SmtpDialog.ConnectAsync(router.Port);
                if ((await again.ReadReplyAsync()).Code == 220)
                {
                    open.Add(again);
                    return true;
                }
                await again.DisposeAsync();
                return false;
            }, TimeSpan.FromSeconds(10), "a connection taken once another closed");
        }
        finally
        {
            foreach (var dialog in open) await dialog.DisposeAsync();
        }
        Assert.False(router.HasExited);
    }
}
