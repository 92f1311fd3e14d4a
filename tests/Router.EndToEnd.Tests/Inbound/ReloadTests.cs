using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// SIGHUP re-reads the configuration's routing tables without a restart (as `postfix reload`
/// does): a mailbox added to the mailboxes file or an alias added to the configuration file takes
/// mail at once; a file that does not load leaves the tables in use as they were.
/// </summary>
public sealed class ReloadTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Sighup_takes_new_mailboxes_and_aliases_and_a_broken_file_changes_nothing()
    {
        var folder = Directory.CreateTempSubdirectory("router-reload-");
        try
        {
            var mailboxesFile = Path.Combine(folder.FullName, "mailboxes");
            await File.WriteAllTextAsync(mailboxesFile, "dave@example.test\n");
            using var router = await RouterProcess.StartAsync(new RouterOptions { ExtraHocon = $"router.mailboxes-file = \"{mailboxesFile}\"" });
            Assert.Equal(250, await RcptAsync(router, "dave@example.test"));
            Assert.Equal(550, await RcptAsync(router, "erin@example.test"));
            Assert.Equal(550, await RcptAsync(router, "sales@example.test"));

            await File.AppendAllTextAsync(mailboxesFile, "# added while running\nerin@example.test\n");
            await File.AppendAllTextAsync(router.ConfigPath, "\nrouter.aliases { \"sales@example.test\" = [\"erin@example.test\"] }\n");
            await ReloadAsync(router, "router: reloaded the routing tables");

            Assert.Equal(250, await RcptAsync(router, "erin@example.test"));
            var token = TestMessages.NewToken();
            await using (var c = await router.ConnectEhloAsync())
            {
                await TestMessages.SendAsync(c, TestMessages.Create(token, to: "sales@example.test"), "a@remote.test", ["sales@example.test"]);
            }
            Assert.Single(router.Mailbox("erin@example.test").NewMessagesContaining(token));

            // A mailbox at a domain that is not local: the file is refused as a whole.
            await File.AppendAllTextAsync(mailboxesFile, "zed@elsewhere.test\n");
            await ReloadAsync(router, "router: reload failed; the routing tables in use stay: router.mailboxes: 'zed@elsewhere.test'");
            Assert.Equal(250, await RcptAsync(router, "erin@example.test"));
            Assert.Equal(250, await RcptAsync(router, "sales@example.test"));
            Assert.False(router.HasExited, "the router exited on a reload that failed");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task ReloadAsync(RouterProcess router, string expected)
    {
        await router.SignalAsync("HUP");
        await router.WaitForOutputAsync(expected, Deadline);
    }

    /// <summary>The code of the reply to RCPT TO:&lt;<paramref name="address"/>&gt; in a fresh session.</summary>
    private static async Task<int> RcptAsync(RouterProcess router, string address)
    {
        await using var c = await router.ConnectEhloAsync();
        await c.CommandAsync("MAIL FROM:<a@remote.test>", "250");
        await c.SendLineAsync($"RCPT TO:<{address}>");
        return (await c.ReadReplyAsync()).Code;
    }
}
