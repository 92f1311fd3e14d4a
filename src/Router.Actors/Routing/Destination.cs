namespace Router.Actors.Routing;

/// <summary>Where one accepted recipient goes: a local mailbox, or a remote address to relay to.</summary>
public abstract record Destination
{
    /// <summary>
    /// A local Maildir, keyed by the lower-cased mailbox address. A mailbox gets one copy of a
    /// message whatever address reached it, so two are equal when their keys are.
    /// </summary>
    public sealed record Mailbox(string Key) : Destination
    {
        /// <summary>
        /// The address that reached the mailbox, lower-cased, for its Delivered-To line (as Postfix's
        /// local(8) writes it): the recipient itself, its extension kept (alice+lists@example.test
        /// for alice@example.test), or the alias or catch-all target that led here.
        /// </summary>
        public string DeliveredTo { get; init; } = Key;

        public bool Equals(Mailbox? other) => other is not null && Key == other.Key;

        public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Key);
    }

    /// <summary>An address at a domain that is not ours; delivered by the domain's delivery actor.</summary>
    public sealed record Remote(string Address, string Domain) : Destination;
}
