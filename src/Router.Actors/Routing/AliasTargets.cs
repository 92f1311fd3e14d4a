using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// The DSN parameters an alias hands on to the remote addresses it expands to (RFC 3461 s6.2.7.3,
/// as Postfix does): the client's NOTIFY, without SUCCESS when the alias has several destinations
/// (the sender gets one "expanded" notice instead, and NEVER when SUCCESS was all it asked for),
/// and ORCPT: the client's, or else the alias address, so that a notice from further on names the
/// address the sender wrote.
/// </summary>
public static class AliasTargets
{
    /// <summary>
    /// <paramref name="into"/> with a command added for each remote destination of <paramref name="rcpt"/>
    /// that is not its own address (created when the first is added; null while none is).
    /// </summary>
    public static List<RcptCommand>? AddForwarded(RcptCommand rcpt, IReadOnlyList<Destination> destinations, List<RcptCommand>? into)
    {
        foreach (var destination in destinations)
        {
            if (destination is not Destination.Remote remote || rcpt.Recipient.Is(remote.Address)) continue;
            var notify = rcpt.Notify;
            if (destinations.Count > 1 && notify.HasFlag(DsnNotify.Success))
            {
                notify &= ~DsnNotify.Success;
                if (notify == DsnNotify.None) notify = DsnNotify.Never;
            }
            var orcpt = rcpt.OriginalRecipient ?? (rcpt.Recipient.IsUtf8 ? null : "rfc822;" + XText.Encode(rcpt.Recipient.ToString()));
            (into ??= []).Add(new RcptCommand(MailAddress.FromText(remote.Address), notify, orcpt));
        }
        return into;
    }
}
