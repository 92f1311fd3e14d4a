using Akka.Event;
using Router.Actors.Routing;
using Router.Protocol;
using Router.Protocol.Dsn;

namespace Router.Actors.Delivery;

/// <summary>
/// "delivered" notices (RFC 3464 Action: delivered, RFC 3461 NOTIFY=SUCCESS) for recipients whose
/// every destination is a local mailbox, made once the session's owners confirmed that each
/// Maildir copy is durable, i.e. at the 250 to the final dot. The notice is a new message with a
/// null sender, handed over by the <see cref="DsnDispatcher"/> like a bounce, returning the
/// original headers only.
/// Best effort, as Postfix's local delivery agent sends its success notices: the notice is made
/// after the 250 and kept nowhere until its owners have it, so a crash (or a failed hand-over,
/// which is logged) between the 250 and the notice loses the notice; the message itself is never
/// delayed nor put at risk by it. A recipient that expands to a remote address is left to the
/// relay, whose queue owes a "relayed" notice only for an address the client named.
/// </summary>
public sealed class DeliveredNotices(DsnDispatcher dispatcher)
{
    /// <summary>
    /// Whether <paramref name="rcpt"/>, accepted for <paramref name="destinations"/>, is owed a
    /// "delivered" notice: its sender is not null, its NOTIFY asks for SUCCESS, and every
    /// destination is a local mailbox.
    /// </summary>
    public static bool Wanted(MailCommand mail, RcptCommand rcpt, IReadOnlyCollection<Destination> destinations) =>
        mail.ReversePath is not null
        && rcpt.Notify.Asks(DsnNotify.Success)
        && destinations.Count > 0
        && destinations.All(d => d is Destination.Mailbox);

    /// <summary>
    /// What a notice for <paramref name="recipients"/> needs, taken while the body is still held:
    /// the envelope and the header section (with the Received header the message got). Null
    /// when no recipient wants one.
    /// </summary>
    public static Pending? Prepare(string queueId, MailCommand mail, IReadOnlyList<RcptCommand>? recipients, ReadOnlySpan<byte> trace, ReadOnlySpan<byte> message)
    {
        if (recipients is not { Count: > 0 } || mail.ReversePath is not { } sender) return null;
        var headers = HeaderSection.Of(message);
        var original = new byte[trace.Length + headers.Length];
        trace.CopyTo(original);
        headers.CopyTo(original.AsSpan(trace.Length));
        return new Pending(queueId, sender, mail.EnvelopeId, [.. recipients], original, DateTimeOffset.UtcNow);
    }

    /// <summary>Hands the notice over (after the 250) and logs what became of it; never throws.</summary>
    public async Task SendAsync(Pending pending, ILoggingAdapter log)
    {
        try
        {
            var recipients = pending.Recipients
                .Select(r => new DsnRecipient(r.Recipient, "2.0.0") { OriginalRecipient = r.OriginalRecipient })
                .ToArray();
            var request = new DsnRequest(DsnKind.Delivered, dispatcher.Hostname, pending.Sender, recipients, pending.OriginalHeaders, pending.ArrivalDate)
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

    /// <summary>A notice to send once the message is durable.</summary>
    public sealed record Pending(string QueueId, MailAddress Sender, string? EnvelopeId, RcptCommand[] Recipients, byte[] OriginalHeaders, DateTimeOffset ArrivalDate);
}
