using Akka.Actor;
using Router.Actors.Configuration;
using Router.Actors.Routing;
using Router.Protocol;
using Router.Protocol.Dsn;

namespace Router.Actors.Delivery;

/// <summary>
/// Sends a delivery status notification (RFC 3464) the way any message travels: built with
/// <see cref="DsnBuilder"/>, given a Received header, and handed with a null reverse-path to the
/// owners the routing policy names (a local mailbox, or the relay), under a queue id of its own
/// that the caller logs beside the original's (Postfix: "sender non-delivery notification: ID").
/// A DSN whose recipient cannot be routed is dropped (the caller logs why), as Postfix drops an
/// undeliverable double bounce.
/// </summary>
public sealed class DsnDispatcher(RouterSettings settings, RoutingPolicy policy, Func<MessageHandoff> handoff)
{
    private static long _transactionIds;

    /// <summary>This host's name: the Reporting-MTA of the notices.</summary>
    public string Hostname => settings.Hostname;

    public async Task<Sent> SendAsync(DsnRequest request)
    {
        var decision = policy.Decide(request.Sender, mayRelay: true);
        if (!decision.Accepted) return new Sent(true, null, decision.Reply);

        var bytes = DsnBuilder.ToBytes(DsnBuilder.Build(request));
        var id = QueueId.Next();
        var trace = TraceHeaders.Received("localhost", System.Net.IPAddress.Loopback, settings.Hostname, "local", id, request.Sender.ToString(), DateTimeOffset.Now);
        var tx = Interlocked.Increment(ref _transactionIds);
        var mail = new MailCommand(null, bytes.Length, DsnBuilder.Requires8BitMime(request) ? BodyType.EightBitMime : BodyType.SevenBit, DsnBuilder.RequiresSmtpUtf8(request), DsnReturn.None, null);
        var rcpts = new[] { new RcptCommand(request.Sender, DsnNotify.Never, null) };
        var plan = handoff().Plan(tx, id, mail, decision.Destinations, rcpts, trace, bytes);
        var replies = await plan.AskAsync().ConfigureAwait(false);
        return new Sent(replies.All(r => r is OwnerReply.Durable), id, null);
    }

    /// <summary>
    /// What became of a DSN. <paramref name="Ok"/>: it is durable with every owner under
    /// <paramref name="NoticeId"/>, or it was dropped because the routing policy refused its
    /// recipient (<paramref name="Refusal"/>); otherwise it must be sent again.
    /// </summary>
    public sealed record Sent(bool Ok, string? NoticeId, SmtpReply? Refusal);
}
