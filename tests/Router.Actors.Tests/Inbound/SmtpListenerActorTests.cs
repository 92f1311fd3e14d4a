using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
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
        // Each try after that logs the pause before the next one, twice the one before up to 1 s:
        // 100, 200, 400, 800 and 1000 ms, so up to five tries in the next two seconds.
        var later = ReceiveWhile(TimeSpan.FromSeconds(2), e => e as LogEvent, msgs: 1000).OfType<LogEvent>()
            .Where(e => e.Message.ToString()!.StartsWith("accept on", StringComparison.Ordinal))
            .ToList();
        Assert.DoesNotContain(later, e => e is Warning);
        var retries = later.OfType<Debug>().ToList();
        Assert.InRange(retries.Count, 3, 6);
        var pauses = retries.Select(d => int.Parse(Regex.Match(d.Message.ToString()!, @"next try in (\d+) ms").Groups[1].Value)).ToList();
        Assert.Equal(pauses.Select((_, i) => Math.Min(100 << i, 1000)), pauses);
        // Each next try came no sooner than the pause said (a busy machine can only make it later;
        // the scheduler's tick may fire a little early).
        for (var i = 0; i + 1 < retries.Count; i++)
        {
            var gap = (retries[i + 1].Timestamp - retries[i].Timestamp).TotalMilliseconds;
            Assert.True(gap >= pauses[i] * 0.8, $"the try after a {pauses[i]} ms pause came {gap:0} ms later");
        }
    }
}
