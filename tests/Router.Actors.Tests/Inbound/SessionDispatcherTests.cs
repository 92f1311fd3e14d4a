using Akka.Dispatch;
using Router.Actors.Smtp;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// The executor behind router.smtp.sessions-on-socket-threads: a mailbox scheduled from a socket
/// engine thread runs on it at once; one scheduled from anywhere else, or from inside such a run,
/// goes to the thread pool (never nested, never on another kind of thread such as the Maildir
/// writer's).
/// </summary>
public sealed class SessionDispatcherTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly SessionDispatcher.SocketThreadExecutor _executor = new("test");

    [Fact]
    public void A_run_scheduled_from_a_socket_thread_runs_on_it_before_Execute_returns()
    {
        Thread? ranOn = null;
        var ranBeforeReturn = false;
        var socketThread = new Thread(() =>
        {
            _executor.Execute(new ActionRunnable(() => ranOn = Thread.CurrentThread));
            ranBeforeReturn = ranOn is not null;
        }) { Name = SessionDispatcher.SocketThreadName };
        socketThread.Start();
        Assert.True(socketThread.Join(Deadline));

        Assert.Same(socketThread, ranOn);
        Assert.True(ranBeforeReturn);
    }

    [Fact]
    public async Task A_run_scheduled_from_another_thread_goes_to_the_thread_pool()
    {
        var ran = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        var other = new Thread(() => _executor.Execute(new ActionRunnable(() => ran.SetResult(Thread.CurrentThread)))) { Name = "durable-file-writer" };
        other.Start();

        var thread = await ran.Task.WaitAsync(Deadline);
        Assert.NotSame(other, thread);
        Assert.True(thread.IsThreadPoolThread);
    }

    [Fact]
    public async Task A_run_scheduled_inside_a_run_on_a_socket_thread_is_queued_not_nested()
    {
        var inner = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        var socketThread = new Thread(() => _executor.Execute(new ActionRunnable(() =>
            _executor.Execute(new ActionRunnable(() => inner.SetResult(Thread.CurrentThread))))))
        {
            Name = SessionDispatcher.SocketThreadName,
        };
        socketThread.Start();

        var thread = await inner.Task.WaitAsync(Deadline);
        Assert.NotSame(socketThread, thread);
        Assert.True(thread.IsThreadPoolThread);
        Assert.True(socketThread.Join(Deadline));
    }

    [Fact]
    public void The_setting_picks_the_executor()
    {
        Assert.Equal(typeof(SessionDispatcher.SocketThreadExecutorConfigurator).AssemblyQualifiedName,
            SessionDispatcher.Config(onSocketThreads: true).GetString($"{SessionDispatcher.Id}.executor"));
        Assert.Equal("default-executor", SessionDispatcher.Config(onSocketThreads: false).GetString($"{SessionDispatcher.Id}.executor"));
    }
}
