using System.Text;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Router.Host;

/// <summary>
/// The node's log on standard output, as Akka's default logger prints it (one line per event:
/// level, time, thread, source, message), without a write(2) per line: events are buffered and
/// flushed <see cref="FlushDelay"/> after the first of them, so the lines of a busy moment (one per
/// message accepted, at thousands of messages a second) go out together, and a lone line goes
/// out at most that late. Flushing behind each burst of queued events instead still made one
/// write(2) per message at 4,000-5,000 messages a second: the events come one at a time.
/// </summary>
public sealed class StdoutLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>, IWithTimers
{
    private static readonly TimeSpan FlushDelay = TimeSpan.FromMilliseconds(20);
    private readonly StreamWriter _out = new(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
    private bool _flushPending;

    public ITimerScheduler Timers { get; set; } = null!;

    public StdoutLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            _out.WriteLine(Format(e));
            if (_flushPending) return;
            _flushPending = true;
            Timers.StartSingleTimer(Flush.Instance, Flush.Instance, FlushDelay);
        });
        Receive<Flush>(_ =>
        {
            _flushPending = false;
            _out.Flush();
        });
    }

    private static string Format(LogEvent e)
    {
        try
        {
            return e.ToString();
        }
        catch (FormatException ex)
        {
            return $"[{e.LogLevel()}][{e.Timestamp:O}][{e.LogSource}] unformattable log event: {ex.Message}";
        }
    }

    protected override void PostStop()
    {
        _out.Flush();
        base.PostStop();
    }

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }
}
