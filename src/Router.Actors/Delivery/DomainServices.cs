using Router.Actors.Configuration;
using Router.Actors.Storage;

namespace Router.Actors.Delivery;

/// <summary>What every domain delivery actor of a node shares.</summary>
public sealed record DomainServices(
    RouterSettings Settings,
    DeliverySettings Delivery,
    IMxResolver Resolver,
    IMessageStore Store,
    DsnDispatcher Notices);
