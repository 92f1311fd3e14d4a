using Akka.Configuration;
using Akka.Dispatch;
using Router.Actors.Configuration;

namespace Router.Actors.Smtp;

/// <summary>
/// Where SMTP session actors run (router.smtp.sessions-on-socket-threads). With it on, the host
/// turns on .NET's inline socket completions (a read completes on the epoll thread that saw the
/// socket ready, one such thread per core), and a session whose mailbox such a completion
/// schedules runs there and then: the command, its reply and the next read on one thread, as in
/// an event loop (Netty, nginx), instead of a hand-off to a thread-pool worker per command. What
/// a session is sent from elsewhere (a mailbox's answer, a timer) runs on the thread pool, as
/// with Akka's default executor, and so does everything when the setting is off.
/// A cluster node keeps .NET's defaults whatever the setting: with inline completions, any code
/// that reads a socket with a blocking call on a socket thread waits for that very thread, and
/// the PostgreSQL driver does that for some reads (ExecuteScalarAsync of a large value did: a
/// node stopped answering its peers and was downed).
/// </summary>
public static class SessionDispatcher
{
    /// <summary>The dispatcher's configuration path, for <c>Props.WithDispatcher</c>.</summary>
    public const string Id = "router-session-dispatcher";

    /// <summary>The engine threads' name in System.Net.Sockets (SocketAsyncEngine).</summary>
    internal const string SocketThreadName = ".NET Sockets";

    /// <summary>The environment variable that makes System.Net.Sockets complete operations on its engine threads.</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    private static long _onSocketThreads;
    private static long _onThreadPool;

    /// <summary>Session mailbox runs scheduled since the start: on the socket thread that scheduled them, or on the thread pool.</summary>
    public static (long OnSocketThreads, long OnThreadPool) Runs => (Interlocked.Read(ref _onSocketThreads), Interlocked.Read(ref _onThreadPool));

    /// <summary>Whether sessions run on the socket threads: the setting, on a single node (no cluster, no PostgreSQL).</summary>
    public static bool Applies(RouterSettings settings, DeliverySettings delivery) => settings.SessionsOnSocketThreads && !delivery.Clustered;

    /// <summary>The dispatcher's configuration: the socket-thread executor when <paramref name="onSocketThreads"/>, else Akka's default.</summary>
    public static Config Config(bool onSocketThreads) => ConfigurationFactory.ParseString($$"""
        {{Id}} {
          type = Dispatcher
          executor = "{{(onSocketThreads ? typeof(SocketThreadExecutorConfigurator).AssemblyQualifiedName : "default-executor")}}"
        }
        """);

    internal sealed class SocketThreadExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : ExecutorServiceConfigurator(config, prerequisites)
    {
        public override ExecutorService Produce(string id) => new SocketThreadExecutor(id);
    }

    /// <summary>Runs a mailbox on the calling socket thread, unless that thread is already running one; else queues it on the thread pool.</summary>
    internal sealed class SocketThreadExecutor(string id) : ExecutorService(id)
    {
        [ThreadStatic] private static int t_isSocketThread; // 0 not yet known, 1 yes, 2 no
        [ThreadStatic] private static bool t_running;

        public override void Execute(IRunnable run)
        {
            if (t_isSocketThread == 0) t_isSocketThread = Thread.CurrentThread.Name == SocketThreadName ? 1 : 2;
            if (t_isSocketThread == 1 && !t_running)
            {
                Interlocked.Increment(ref _onSocketThreads);
                t_running = true;
                try
                {
                    run.Run();
                }
                finally
                {
                    t_running = false;
                }
                return;
            }
            Interlocked.Increment(ref _onThreadPool);
            ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
        }

        public override void Shutdown()
        {
        }
    }
}
