using Akka.Actor;
using Router.Actors.Configuration;
using Router.Actors.Routing;

namespace Router.Actors.Smtp;

/// <summary>What every session needs from the node: settings, the routing policy and the owners' regions.</summary>
public sealed record SmtpServices(
    RouterSettings Settings,
    RoutingPolicy Policy,
    TrustedNetworks Trusted,
    IActorRef Mailboxes,
    IActorRef Relay);
