namespace Router.Actors.Routing;

/// <summary>Where one accepted recipient goes: a local mailbox, or a remote address to relay to.</summary>
public abstract record Destination
{
    /// <summary>A local Maildir, keyed by the lower-cased mailbox address.</summary>
    public sealed record Mailbox(string Key) : Destination;

    /// <summary>An address at a domain that is not ours; delivered by the domain's delivery actor.</summary>
    public sealed record Remote(string Address, string Domain) : Destination;
}
