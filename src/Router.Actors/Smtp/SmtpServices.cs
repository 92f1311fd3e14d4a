using Akka.Actor;
using Router.Actors.Configuration;
using Router.Actors.Delivery;
using Router.Actors.Dnsbl;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>
/// What every session needs from the node: settings, the routing policy and the owners' regions,
/// or, for local mailboxes on a single node, the <see cref="MaildirDelivery"/> that writes them directly.
/// </summary>
public sealed record SmtpServices(
    RouterSettings Settings,
    RoutingPolicy Policy,
    TrustedNetworks Trusted,
    IActorRef Mailboxes,
    IActorRef Relay,
    bool BodiesByReference = false,
    MaildirDelivery? DirectDelivery = null)
{
    public MessageHandoff Handoff { get; } = new(Mailboxes, Relay, BodiesByReference, Settings.AckTimeoutFor, DirectDelivery);

    /// <summary>Per-client limits shared by every listener of the node.</summary>
    public ClientLimits Limits { get; init; } = new(Settings);

    /// <summary>Free space where mail is written, checked at MAIL.</summary>
    public StorageSpace Space { get; init; } = new([Settings.DataDir, Settings.MaildirRoot], Settings.MinFreeSpace);

    /// <summary>What the bodies being received may hold in memory, all sessions of the node together.</summary>
    public BodyMemoryBudget BodyBudget { get; init; } = new(Settings.MaxBodyMemory);

    /// <summary>"delivered" notices (NOTIFY=SUCCESS at a local mailbox); none unless the node sets it.</summary>
    public DeliveredNotices? DeliveredNotices { get; init; }

    /// <summary>The DNS blocklists asked about untrusted clients of the MTA endpoints (router.smtp.dnsbl); null: none.</summary>
    public DnsblChecker? Dnsbl { get; init; }

    /// <summary>TLS, AUTH, submission sender policy and DKIM; disabled unless the node sets it.</summary>
    public SmtpSecurity Security { get; init; } = SmtpSecurity.Disabled;
}
