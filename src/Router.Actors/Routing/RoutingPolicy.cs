using Router.Actors.Configuration;
using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// Decides what happens to each recipient (the job of Postfix's trivial-rewrite and
/// smtpd_recipient_restrictions): aliases are expanded, local domains map to mailboxes or a
/// catch-all, unknown local users get 550 5.1.1, and other domains are relayed only for clients
/// that may relay, else 554 5.7.1 — never an open relay. Pure: no I/O, no actors.
/// </summary>
public sealed class RoutingPolicy
{
    private const int MaxAliasDepth = 10;
    private readonly RouterSettings _settings;

    public RoutingPolicy(RouterSettings settings) => _settings = settings;

    public bool IsLocalDomain(string domain) => _settings.LocalDomains.Contains(domain.ToLowerInvariant());

    /// <param name="recipient">The RCPT address.</param>
    /// <param name="mayRelay">True for trusted or authenticated clients.</param>
    public RcptDecision Decide(MailAddress recipient, bool mayRelay)
    {
        var key = recipient.Key;
        var domain = recipient.Domain.ToLowerInvariant();
        if (!IsLocalDomain(domain) && !_settings.Aliases.ContainsKey(key))
        {
            return mayRelay
                ? new RcptDecision([new Destination.Remote(recipient.ToString(), domain)], Replies.RecipientOk)
                : RcptDecision.Refuse(Replies.RelayDenied);
        }

        var destinations = new List<Destination>();
        if (!Expand(key, destinations, 0)) return RcptDecision.Refuse(Replies.NoSuchUser);
        return new RcptDecision(destinations.Distinct().ToArray(), Replies.RecipientOk);
    }

    private bool Expand(string key, List<Destination> into, int depth)
    {
        if (depth > MaxAliasDepth) return false;
        if (_settings.Aliases.TryGetValue(key, out var targets))
        {
            var any = false;
            foreach (var target in targets) any |= Expand(target.ToLowerInvariant(), into, depth + 1);
            return any;
        }
        var at = key.LastIndexOf('@');
        if (at <= 0) return false;
        var domain = key[(at + 1)..];
        if (!IsLocalDomain(domain))
        {
            // An alias may point anywhere: the operator chose the target, not the client.
            into.Add(new Destination.Remote(key, domain));
            return true;
        }
        if (_settings.Mailboxes.Contains(key))
        {
            into.Add(new Destination.Mailbox(key));
            return true;
        }
        if (_settings.CatchAll.TryGetValue(domain, out var catchAll) && depth < MaxAliasDepth && catchAll != key)
        {
            return Expand(catchAll, into, depth + 1);
        }
        return false;
    }
}
