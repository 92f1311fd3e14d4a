using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// router.smtp.sessions-on-socket-threads in the real process: on (the default), a session runs on
/// the System.Net.Sockets thread that completed its read, which only works when the host turned on
/// inline completions before its first socket and .NET still names its engine threads as we expect;
/// off, sessions run as Akka and .NET do by default. Mail is delivered either way.
/// </summary>
public sealed class SessionThreadTests
{
    private const string OnSocketThreads = "router_smtp_session_runs_total{on=\"socket-thread\"}";
    private const string OnThreadPool = "router_smtp_session_runs_total{on=\"thread-pool\"}";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sessions_run_on_the_socket_threads_when_the_setting_is_on(bool on)
    {
        var http = TestPorts.Next();
        using var router = await RouterProcess.StartAsync(new RouterOptions
        {
            ExtraHocon = $$"""
                router {
                  http.endpoint = "127.0.0.1:{{http}}"
                  smtp.sessions-on-socket-threads = {{(on ? "on" : "off")}}
                }
                """,
        });
        await router.WaitForOutputAsync("router: admin", TimeSpan.FromSeconds(10));
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };

        var tokens = new List<string>();
        await using (var c = await router.ConnectEhloAsync())
        {
            for (var i = 0; i < 3; i++)
            {
                var token = TestMessages.NewToken();
                tokens.Add(token);
                await TestMessages.SendAsync(c, TestMessages.Create(token), from: "a@remote.test", to: ["alice@example.test"]);
            }
            await c.CommandAsync("QUIT", "221");
        }

        foreach (var token in tokens) Assert.Single(router.Mailbox("alice@example.test").NewMessagesContaining(token));
        var metrics = await AdminMetrics.ReadAsync(admin);
        if (on)
        {
            // EHLO, then MAIL, RCPT, DATA and the body three times, QUIT: each read the client waited
            // to send after our reply completes on a socket thread, and the session runs there.
            Assert.True(metrics[OnSocketThreads] >= 5, $"session runs on socket threads: {metrics[OnSocketThreads]}, on the thread pool: {metrics[OnThreadPool]}");
            Assert.True(metrics[OnThreadPool] > 0, "the mailbox's answers come from the thread pool");
        }
        else
        {
            Assert.Equal(0, metrics[OnSocketThreads]);
            Assert.Equal(0, metrics[OnThreadPool]);
        }
    }
}
