namespace Router.Actors.Sharding;

/// <summary>
/// What sharding sends an owner (a mailbox or domain entity) to stop it when its shard is handed
/// over — a rebalance, or its node leaving the cluster — and when it is passivated, instead of a
/// <c>PoisonPill</c>. The owner first finishes the work someone waits for (journal writes, Maildir
/// files, delivery attempts in flight), then stops. A PoisonPill would stop it between a write and
/// its acknowledgement: the session waiting on it would answer 451, and the owner's next
/// incarnation on another node could recover before the write landed.
/// </summary>
internal sealed record HandOffStop
{
    public static readonly HandOffStop Instance = new();
}
