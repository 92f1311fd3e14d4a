using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>The routing policy's answer to one RCPT: the destinations, or the reply that refuses it.</summary>
public sealed record RcptDecision(IReadOnlyList<Destination> Destinations, SmtpReply Reply)
{
    public bool Accepted => Reply.IsPositive;

    public static RcptDecision Refuse(SmtpReply reply) => new([], reply);
}
