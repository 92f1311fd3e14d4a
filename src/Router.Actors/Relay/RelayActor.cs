using Akka.Actor;
using Akka.Event;
using Router.Actors.Delivery;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Sharding;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors.Relay;

/// <summary>
/// Takes a message with remote recipients from a session (or a DSN from the queue): writes the
/// body once to the message store, then has each destination domain's actor persist its envelope
/// (and, in cluster mode, each mailbox write its copy); answers <see cref="OwnerReply.Durable"/>
/// when all are done. The body is durable before any owner learns of the message, so an owner
/// never looks for a body that is still being written. Owners are asked at least once
/// (<see cref="ShardedAsk"/>): a request lost while a shard moves between nodes is sent again.
/// A message that is not accepted gives back, best effort, the references no owner can need: all
/// of them when the store failed (no owner was asked), the mailboxes' otherwise (a mailbox drops
/// its own once its copy is durable, so one still held is a copy that never made it). A domain's
/// reference stays: its envelope may have been persisted although the write was reported as
/// failed, and only the queue, after its recovery, can tell (see <see cref="BodySweeper"/>, which
/// also removes what a release that failed here left).
/// </summary>
public sealed class RelayActor : ReceiveActor
{
    public RelayActor(IMessageStore store, IActorRef domains, IActorRef mailboxes)
    {
        var log = Context.GetLogger();
        Receive<RelayRequest>(request =>
        {
            AcceptAsync(store, domains, mailboxes, request, log).PipeTo(Sender);
        });
    }

    public static Props Props(IMessageStore store, IActorRef domains, IActorRef mailboxes) =>
        Akka.Actor.Props.Create(() => new RelayActor(store, domains, mailboxes));

    private static async Task<OwnerReply> AcceptAsync(IMessageStore store, IActorRef domains, IActorRef mailboxes, RelayRequest request, ILoggingAdapter log)
    {
        // The references to give back if the message is not accepted: every owner's while the
        // store may have committed them and no owner has heard of them; then the mailboxes' (a
        // mailbox drops its own only after its write; a domain's queue refuses a late envelope).
        string[] unreleased = [];
        OwnerReply reply;
        try
        {
            var arrived = DateTimeOffset.UtcNow;
            // The RCPT that named each recipient carries its DSN parameters; an alias target has none.
            var commands = new Dictionary<string, RcptCommand>(StringComparer.OrdinalIgnoreCase);
            foreach (var c in request.RcptCommands) commands.TryAdd(c.Recipient.ToString(), c);
            var byDomain = request.Recipients
                .Select(r => (Recipient: r, Command: commands.GetValueOrDefault(r.Address)))
                .GroupBy(x => x.Recipient.Domain)
                .ToArray();
            var mailboxOwners = request.Mailboxes.Select(m => MailboxActor.StoreOwner(m.Key)).ToArray();
            unreleased = [.. byDomain.Select(g => g.Key), .. mailboxOwners];
            // Its deadline: the session waits AckTimeout for the owners, and the queues refuse a later envelope.
            await store.StoreAsync(request.QueueId, unreleased, request.Trace, request.Body, request.AckTimeout).ConfigureAwait(false);
            unreleased = mailboxOwners;
            reply = await AskOwnersAsync(domains, mailboxes, request, byDomain, arrived).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            reply = new OwnerReply.Failed(request.TransactionId, "relay", e.GetBaseException().Message);
        }
        if (reply is OwnerReply.Failed) Release(store, request.QueueId, unreleased, log);
        return reply;
    }

    private static async Task<OwnerReply> AskOwnersAsync(
        IActorRef domains,
        IActorRef mailboxes,
        RelayRequest request,
        IGrouping<string, (Destination.Remote Recipient, RcptCommand? Command)>[] byDomain,
        DateTimeOffset arrived)
    {
        var timeout = request.AckTimeout;
        var size = request.Trace.Length + request.Body.Length;
        var resend = ShardedAsk.ResendInterval(timeout);
        var answerBy = DateTimeOffset.UtcNow + timeout;
        // Accepted, or NotAccepted when the domain's journal is unavailable or the answer comes too late.
        var enqueued = byDomain.Select(g => ShardedAsk.AskAsync<object>(
            domains,
            new DomainDeliveryActor.Enqueue(g.Key, new QueuedMessage(
                request.QueueId,
                g.Key,
                request.Mail.ReversePath?.ToString(),
                request.Mail.EnvelopeId,
                request.Mail.Return == DsnReturn.Full,
                request.Mail.SmtpUtf8,
                request.Mail.Body == BodyType.EightBitMime,
                arrived,
                size,
                g.Select(x => new QueuedRecipient(x.Recipient.Address, x.Command?.Notify ?? DsnNotify.None, x.Command?.OriginalRecipient)).ToArray(),
                ReturnHeaders: request.Mail.Return == DsnReturn.Headers),
                answerBy),
            timeout,
            resend)).ToArray();
        var delivered = request.Mailboxes.Select(m => ShardedAsk.AskAsync<OwnerReply>(
            mailboxes,
            new MailboxActor.Deliver(m.Key, request.TransactionId, request.Mail.ReversePath?.ToString(), [], ReadOnlyMemory<byte>.Empty, request.QueueId) { DeliveredTo = m.DeliveredTo },
            timeout,
            resend)).ToArray();
        if ((await Task.WhenAll(enqueued).ConfigureAwait(false)).OfType<DomainDeliveryActor.NotAccepted>().FirstOrDefault() is { } refused)
            return new OwnerReply.Failed(request.TransactionId, "relay", refused.Reason);
        var failed = (await Task.WhenAll(delivered).ConfigureAwait(false)).OfType<OwnerReply.Failed>().FirstOrDefault();
        return failed is null
            ? new OwnerReply.Durable(request.TransactionId, "relay")
            : new OwnerReply.Failed(request.TransactionId, "relay", failed.Reason);
    }

    /// <summary>Drops these owners' references, without waiting (the store may be what failed); what fails is left to the body sweep.</summary>
    private static void Release(IMessageStore store, string queueId, IReadOnlyList<string> owners, ILoggingAdapter log)
    {
        if (owners.Count == 0) return;
        _ = Task.WhenAll(owners.Select(owner => store.ReleaseAsync(queueId, owner))).ContinueWith(
            t => log.Warning("{0}: the references of a message that was not accepted were not all released ({1}); the body sweep removes them later", queueId, t.Exception?.GetBaseException().Message),
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
