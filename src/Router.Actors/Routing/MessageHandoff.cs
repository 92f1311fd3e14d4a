using Akka.Actor;
using Router.Actors.Mailbox;
using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// Who gets an accepted message, and in which form: each local mailbox directly with the body in
/// memory (one node: written by <paramref name="direct"/> when given, else told to the mailbox
/// actors), the relay for remote recipients, or — when bodies travel by reference (cluster) — the
/// relay for everything, which stores the body once for all owners. Each target answers with an
/// <see cref="OwnerReply"/>, within the plan's <see cref="HandoffPlan.AckTimeout"/> (longer the more
/// bytes the owners write). Used by sessions and by the DSN sender alike.
/// </summary>
public sealed class MessageHandoff(
    IActorRef mailboxes,
    IActorRef relay,
    bool bodiesByReference,
    Func<long, TimeSpan> ackTimeoutFor,
    MaildirDelivery? direct = null)
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
        var written = new List<MailboxActor.Deliver>();
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
            foreach (var m in local)
            {
                var deliver = new MailboxActor.Deliver(m.Key, transactionId, returnPath, trace, body) { DeliveredTo = m.DeliveredTo };
                if (direct is null) plan.Add((mailboxes, deliver));
                else written.Add(deliver);
            }
            local.Clear();
        }
        if (remote.Count > 0 || local.Count > 0)
        {
            plan.Add((relay, new RelayRequest(transactionId, queueId, mail, remote, rcpts, trace, body, ackTimeout) { Mailboxes = local }));
        }
        return new HandoffPlan(plan, ackTimeout) { Written = written, Direct = direct };
    }
}

/// <summary>
/// What to send to whom, and how long their answers may take: <see cref="Messages"/> go to actors,
/// <see cref="Written"/> to the node's <see cref="MaildirDelivery"/>; one <see cref="OwnerReply"/> comes back for each.
/// </summary>
public sealed record HandoffPlan(IReadOnlyList<(IActorRef Owner, object Message)> Messages, TimeSpan AckTimeout)
{
    public IReadOnlyList<MailboxActor.Deliver> Written { get; init; } = [];

    public MaildirDelivery? Direct { get; init; }

    /// <summary>How many answers to wait for.</summary>
    public int Count => Messages.Count + Written.Count;

    /// <summary>Hands the message over; every answer goes to <paramref name="replyTo"/>.</summary>
    public void Send(IActorRef replyTo)
    {
        foreach (var (owner, message) in Messages) owner.Tell(message, replyTo);
        foreach (var deliver in Written) Direct!.Deliver(deliver, reply => replyTo.Tell(reply));
    }

    /// <summary>Hands the message over and collects the answers; one that does not come within <see cref="AckTimeout"/> fails the task.</summary>
    public Task<OwnerReply[]> AskAsync()
    {
        var answers = Messages.Select(p => p.Owner.Ask<OwnerReply>(p.Message, AckTimeout)).ToList();
        foreach (var deliver in Written)
        {
            var answer = new TaskCompletionSource<OwnerReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            Direct!.Deliver(deliver, reply => answer.TrySetResult(reply));
            answers.Add(answer.Task.WaitAsync(AckTimeout));
        }
        return Task.WhenAll(answers);
    }
}
