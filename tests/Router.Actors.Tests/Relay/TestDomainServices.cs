using System.Net;
using System.Text;
using Akka.Actor;
using Router.Actors.Configuration;
using Router.Actors.Delivery;
using Router.Actors.Routing;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// What a <see cref="DomainDeliveryActor"/> under test runs with: an in-memory message store, an
/// MX resolver the test steers (<see cref="Resolution"/>), delivery settings on a compressed clock,
/// and a DSN dispatcher that hands notices to <paramref name="mailboxes"/> (a probe).
/// </summary>
internal sealed class TestDomainServices(IActorRef mailboxes, IActorRef relay)
{
    public static readonly RouterSettings Settings = TestSettings.Minimal("mx.router.test");

    public static readonly DeliverySettings DefaultDelivery = new()
    {
        RetrySchedule = [TimeSpan.FromMilliseconds(300)],
        RetryJitter = 0,
        StartTls = "off",
        ConnectTimeout = TimeSpan.FromSeconds(2),
        CommandTimeout = TimeSpan.FromSeconds(5),
        DataTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>The delivery settings the next <see cref="Services"/> carries (a test may narrow them).</summary>
    public DeliverySettings Delivery { get; set; } = DefaultDelivery;

    public InMemoryMessageStore Store { get; } = new();

    public SteeredMxResolver Resolver { get; } = new();

    /// <summary>The node's record of outcomes not in the journal yet: one for every queue started, as on a node.</summary>
    public UnrecordedOutcomes Outcomes { get; } = new();

    public DomainServices Services => ServicesWith(Store);

    /// <summary>The same services over another message store (e.g. one whose reads a test holds back).</summary>
    public DomainServices ServicesWith(IMessageStore store) => new(
        Settings,
        Delivery,
        Resolver,
        store,
        new DsnDispatcher(Settings, new RoutingPolicy(Settings), () => new MessageHandoff(mailboxes, relay, bodiesByReference: false, Settings.AckTimeoutFor)))
    {
        Outcomes = Outcomes,
    };

    /// <summary>A test message's content: its id as the subject and Message-ID.</summary>
    public static byte[] Body(string id) => Encoding.ASCII.GetBytes($"Subject: {id}\r\nMessage-ID: <{id}@example.test>\r\n\r\nhello\r\n");

    /// <summary>Stores <paramref name="id"/>'s body for <paramref name="domain"/>, as the relay does before it enqueues the envelope.</summary>
    public Task StoreBodyAsync(string id, string domain) =>
        Store.StoreAsync(id, [domain], Encoding.ASCII.GetBytes("Received: by test\r\n"), Body(id), TimeSpan.FromSeconds(30));

    /// <summary>The Enqueue of <paramref name="id"/>'s envelope for <paramref name="domain"/> (to bob@ the domain when no recipient is given).</summary>
    public static DomainDeliveryActor.Enqueue Envelope(string id, string domain, string? sender = "alice@example.test", params string[] recipients)
    {
        if (recipients.Length == 0) recipients = ["bob@" + domain];
        return new DomainDeliveryActor.Enqueue(domain, new QueuedMessage(
            id, domain, sender, null, false, false, false, DateTimeOffset.UtcNow, Body(id).Length,
            recipients.Select(r => new QueuedRecipient(r, DsnNotify.None, null)).ToArray()));
    }

    /// <summary>Resolves every domain to the loopback server on <paramref name="port"/>.</summary>
    public static MxResolution Loopback(int port) =>
        new MxResolution.Resolved([new MxHost("mx.sink.test", [IPAddress.Loopback], port)]);
}
