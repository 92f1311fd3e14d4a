using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>The routing policy's answer to one RCPT: the destinations, or the reply that refuses it.</summary>
public sealed record RcptDecision(IReadOnlyList<Destination> Destinations, SmtpReply Reply)
{
    public bool Accepted => Reply.IsPositive;

    /// <summary>Refused as relaying by a client that may not relay (554 5.7.1 Relay access denied).</summary>
    public bool RelayDenied => ReferenceEquals(Reply, Replies.RelayDenied);

    public static RcptDecision Refuse(SmtpReply reply) => new([], reply);
}
