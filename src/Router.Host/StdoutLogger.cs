using System.Text;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Router.Host;

/// <summary>
/// The node's log on standard output, as Akka's default logger prints it (one line per event:
/// level, time, thread, source, message), without a write(2) per line: events are buffered and
/// flushed by a message this logger sends itself behind them, so a burst (a log line per message
/// accepted, at thousands of messages a second) goes out in one write once the events queued before
/// the flush are in the buffer, and a lone event goes out at once.
/// </summary>
public sealed class StdoutLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly StreamWriter _out = new(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
    private bool _flushPending;

    public StdoutLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            _out.WriteLine(Format(e));
            if (_flushPending) return;
            _flushPending = true;
            Self.Tell(Flush.Instance);
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
