using System.Collections.Concurrent;
using Router.Actors.Routing;
using Router.Actors.Storage;

namespace Router.Actors.Mailbox;

/// <summary>
/// Local delivery on a single node: a message for a local mailbox goes from the session straight to
/// the group-commit <see cref="DurableFileWriter"/>, whose thread answers the session once the file
/// is durable, as a <see cref="MailboxActor"/> would. On one node the mailbox actor adds nothing the
/// writer does not do already (the writer orders and batches every file, and each name is unique),
/// but reaching it costs three actor hops per message (shard region, shard, entity), each a
/// thread-pool run (docs/PERFORMANCE.md). In a cluster the sharded mailbox actors stay: there a
/// mailbox has one owner among the nodes, and bodies travel by reference.
/// </summary>
public sealed class MaildirDelivery(string maildirRoot, string hostname, DurableFileWriter writer)
{
    private readonly ConcurrentDictionary<string, MaildirFolder> _folders = new(StringComparer.Ordinal);

    /// <summary>Writes <paramref name="deliver"/> (its body in memory) and calls <paramref name="answer"/> once, on the writer's thread or this one.</summary>
    public void Deliver(MailboxActor.Deliver deliver, Action<OwnerReply> answer)
    {
        try
        {
            var folder = _folders.GetOrAdd(deliver.Mailbox, mailbox => new MaildirFolder(maildirRoot, mailbox, hostname));
            folder.EnsureCreated();
            var (name, parts) = MailboxActor.File(folder, deliver, deliver.Trace, deliver.Body);
            writer.Commit(folder.Path, name, parts, error => answer(MailboxActor.Outcome(deliver, error, written: true)));
        }
        catch (Exception e)
        {
            answer(MailboxActor.Outcome(deliver, e, written: false));
        }
    }
}
