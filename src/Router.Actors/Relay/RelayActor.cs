using Akka.Actor;
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
/// </summary>
public sealed class RelayActor : ReceiveActor
{
    public RelayActor(IMessageStore store, IActorRef domains, IActorRef mailboxes)
    {
        Receive<RelayRequest>(request =>
        {
            AcceptAsync(store, domains, mailboxes, request).PipeTo(Sender);
        });
    }

    public static Props Props(IMessageStore store, IActorRef domains, IActorRef mailboxes) =>
        Akka.Actor.Props.Create(() => new RelayActor(store, domains, mailboxes));

    private static async Task<OwnerReply> AcceptAsync(IMessageStore store, IActorRef domains, IActorRef mailboxes, RelayRequest request)
    {
        var timeout = request.AckTimeout;
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
            var size = request.Trace.Length + request.Body.Length;
            var owners = byDomain.Select(g => g.Key).Concat(request.Mailboxes.Select(m => MailboxActor.StoreOwner(m.Key))).ToArray();
            await store.StoreAsync(request.QueueId, owners, request.Trace, request.Body).ConfigureAwait(false);
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
                    request.Mail.ReturnFull,
                    request.Mail.SmtpUtf8,
                    request.Mail.Body == BodyType.EightBitMime,
                    arrived,
                    size,
                    g.Select(x => new QueuedRecipient(x.Recipient.Address, x.Command?.Notify ?? DsnNotify.None, x.Command?.OriginalRecipient)).ToArray()),
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
        catch (Exception e)
        {
            return new OwnerReply.Failed(request.TransactionId, "relay", e.GetBaseException().Message);
        }
    }
}
