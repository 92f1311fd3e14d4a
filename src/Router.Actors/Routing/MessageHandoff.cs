using Akka.Actor;
using Router.Actors.Mailbox;
using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// Who gets an accepted message, and in which form: each local mailbox directly with the body in
/// memory (one node), the relay for remote recipients, or — when bodies travel by reference
/// (cluster) — the relay for everything, which stores the body once for all owners. Each target
/// answers with an <see cref="OwnerReply"/>, within the plan's <see cref="HandoffPlan.AckTimeout"/>
/// (longer the more bytes the owners write). Used by sessions and by the DSN sender alike.
/// </summary>
public sealed class MessageHandoff(IActorRef mailboxes, IActorRef relay, bool bodiesByReference, Func<long, TimeSpan> ackTimeoutFor)
{
    public HandoffPlan Plan(
        long transactionId,
        string queueId,
        MailCommand mail,
        IEnumerable<Destination> destinations,
        IReadOnlyList<RcptCommand> rcpts,
        byte[] trace,
        ReadOnlyMemory<byte> body)
    {
        var plan = new List<(IActorRef, object)>();
        var local = new List<Destination.Mailbox>();
        var remote = new List<Destination.Remote>();
        foreach (var destination in destinations)
        {
            if (destination is Destination.Mailbox m) local.Add(m);
            else if (destination is Destination.Remote r) remote.Add(r);
        }
        // Each mailbox writes a copy, plus one shared copy: the spool's for remote recipients, or
        // the store's that every owner reads from when bodies travel by reference.
        var shared = remote.Count > 0 || (bodiesByReference && local.Count > 0) ? 1 : 0;
        var copies = local.Count + shared;
        var ackTimeout = ackTimeoutFor((trace.LongLength + body.Length) * copies);
        if (!bodiesByReference)
        {
            var returnPath = mail.ReversePath?.ToString();
            foreach (var m in local) plan.Add((mailboxes, new MailboxActor.Deliver(m.Key, transactionId, returnPath, trace, body) { DeliveredTo = m.DeliveredTo }));
            local.Clear();
        }
        if (remote.Count > 0 || local.Count > 0)
        {
            plan.Add((relay, new RelayRequest(transactionId, queueId, mail, remote, rcpts, trace, body, ackTimeout) { Mailboxes = local }));
        }
        return new HandoffPlan(plan, ackTimeout);
    }
}

/// <summary>What to send to whom, and how long their answers may take.</summary>
public sealed record HandoffPlan(IReadOnlyList<(IActorRef Owner, object Message)> Messages, TimeSpan AckTimeout);
