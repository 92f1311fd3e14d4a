using Akka.Event;
using Router.Actors.Routing;
using Router.Protocol;
using Router.Protocol.Dsn;

namespace Router.Actors.Delivery;

/// <summary>
/// Success notices owed at acceptance (RFC 3461 NOTIFY=SUCCESS): "delivered" (RFC 3464 Action)
/// for a recipient whose one destination is a local mailbox, "expanded" for an alias with several
/// destinations, whose targets then get no success notices of their own (RFC 3461 s6.2.7.3; see
/// <see cref="AliasTargets"/>). They are made once the session's owners confirmed that the message
/// is durable, i.e. at the 250 to the final dot: a new message with a null sender, handed over by
/// the <see cref="DsnDispatcher"/> like a bounce, returning the original headers only.
/// Best effort, as Postfix's local delivery agent sends its success notices: the notice is made
/// after the 250 and kept nowhere until its owners have it, so a crash (or a failed hand-over,
/// which is logged) between the 250 and the notice loses the notice; the message itself is never
/// delayed nor put at risk by it. A recipient that is one remote address, or an alias of one, is
/// left to the relay, whose queue owes a "relayed" notice when the next hop offers no DSN.
/// </summary>
public sealed class DeliveredNotices(DsnDispatcher dispatcher)
{
    /// <summary>
    /// The notice <paramref name="rcpt"/>, accepted for <paramref name="destinations"/>, is owed at
    /// acceptance, if any: none for a null sender or a NOTIFY without SUCCESS; "expanded" for
    /// several destinations, "delivered" for one local mailbox.
    /// </summary>
    public static DsnKind? Owed(MailCommand mail, RcptCommand rcpt, IReadOnlyList<Destination> destinations) =>
        mail.ReversePath is null || !rcpt.Notify.Asks(DsnNotify.Success) ? null
        : destinations.Count > 1 ? DsnKind.Expanded
        : destinations is [Destination.Mailbox] ? DsnKind.Delivered
        : null;

    /// <summary>
    /// What the notices for <paramref name="owed"/> need, taken while the body is still held:
    /// the envelope and the header section (with the Received header the message got). Null
    /// when no recipient is owed one.
    /// </summary>
    public static Pending? Prepare(string queueId, MailCommand mail, IReadOnlyList<(DsnKind Kind, RcptCommand Rcpt)>? owed, ReadOnlySpan<byte> trace, ReadOnlySpan<byte> message)
    {
        if (owed is not { Count: > 0 } || mail.ReversePath is not { } sender) return null;
        var headers = HeaderSection.Of(message);
        var original = new byte[trace.Length + headers.Length];
        trace.CopyTo(original);
        headers.CopyTo(original.AsSpan(trace.Length));
        return new Pending(queueId, sender, mail.EnvelopeId, [.. owed], original, DateTimeOffset.UtcNow);
    }

    /// <summary>Hands the notices over (after the 250), one per kind, and logs what became of each; never throws.</summary>
    public async Task SendAsync(Pending pending, ILoggingAdapter log)
    {
        foreach (var kind in pending.Owed.Select(o => o.Kind).Distinct())
        {
            try
            {
                var recipients = pending.Owed
                    .Where(o => o.Kind == kind)
                    .Select(o => new DsnRecipient(o.Rcpt.Recipient, "2.0.0") { OriginalRecipient = o.Rcpt.OriginalRecipient })
                    .ToArray();
                var request = new DsnRequest(kind, dispatcher.Hostname, pending.Sender, recipients, pending.OriginalHeaders, pending.ArrivalDate)
                {
                    OriginalEnvelopeId = pending.EnvelopeId,
                };
                var sent = await dispatcher.SendAsync(request).ConfigureAwait(false);
                if (sent.NoticeId is { } id) log.Info("{0}: sender delivery status notification: {1}", pending.QueueId, id);
                else if (sent.Refusal is { } refusal) log.Warning("{0}: sender delivery status notification to <{1}> dropped: {2}", pending.QueueId, pending.Sender, refusal);
                else log.Warning("{0}: could not hand over the delivery status notification to <{1}>; it is not sent (best effort)", pending.QueueId, pending.Sender);
            }
            catch (Exception e)
            {
                log.Warning("{0}: could not hand over the delivery status notification to <{1}>; it is not sent (best effort): {2}", pending.QueueId, pending.Sender, e.Message);
            }
        }
    }

    /// <summary>Notices to send once the message is durable.</summary>
    public sealed record Pending(string QueueId, MailAddress Sender, string? EnvelopeId, (DsnKind Kind, RcptCommand Rcpt)[] Owed, byte[] OriginalHeaders, DateTimeOffset ArrivalDate);
}
