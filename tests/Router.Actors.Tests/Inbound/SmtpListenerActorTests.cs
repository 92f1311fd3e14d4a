using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Router.Actors.Routing;
using Router.Actors.Smtp;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// A listener whose accepts keep failing (here a listening socket shut down under it: every
/// accept fails at once with EINVAL, as one out of descriptors fails with EMFILE) tries again
/// after pauses that grow, and warns once, instead of retrying and logging in a tight loop.
/// </summary>
public sealed class SmtpListenerActorTests() : TestKit("akka.loglevel = DEBUG")
{
    [Fact]
    public void Failing_accepts_are_retried_after_growing_pauses_with_one_warning()
    {
        var settings = TestSettings.Minimal("mx.test");
        var services = new SmtpServices(settings, new RoutingPolicy(settings), new TrustedNetworks(settings.TrustedNetworks), ActorRefs.Nobody, ActorRefs.Nobody);
        var listener = SmtpListenerActor.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Shutdown(SocketShutdown.Receive);
        Sys.EventStream.Subscribe(TestActor, typeof(LogEvent));

        Sys.ActorOf(SmtpListenerActor.Props(listener, services));

        FishForMessage<Warning>(w => w.Message.ToString()!.StartsWith("accept on", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        // The next tries come 50, 100, 200, 400 and 800 ms after the one before: up to five in the
        // next two seconds, each pause twice the one before it (give or take the scheduler's tick).
        var later = ReceiveWhile(TimeSpan.FromSeconds(2), e => e as LogEvent, msgs: 1000).OfType<LogEvent>()
            .Where(e => e.Message.ToString()!.StartsWith("accept on", StringComparison.Ordinal))
            .ToList();
        Assert.DoesNotContain(later, e => e is Warning);
        var retries = later.OfType<Debug>().Select(d => d.Timestamp).ToList();
        Assert.InRange(retries.Count, 3, 6);
        var gaps = retries.Zip(retries.Skip(1), (a, b) => b - a).ToList();
        Assert.All(gaps, gap => Assert.True(gap >= TimeSpan.FromMilliseconds(40), $"tries {gap.TotalMilliseconds:0} ms apart"));
        Assert.All(gaps.Zip(gaps.Skip(1)), pair => Assert.True(pair.Item2 >= pair.Item1 * 1.5,
            $"the pauses did not grow: {string.Join(", ", gaps.Select(g => $"{g.TotalMilliseconds:0}"))} ms"));
    }
}
