using Router.Actors.Configuration;
using Router.Protocol;

namespace Router.Actors.Routing;

/// <summary>
/// Decides what happens to each recipient (the job of Postfix's trivial-rewrite and
/// smtpd_recipient_restrictions): aliases are expanded, local domains map to mailboxes or a
/// catch-all, unknown local users get 550 5.1.1, and other domains are relayed only for clients
/// that may relay, else 554 5.7.1 — never an open relay. postmaster@ every local domain takes
/// mail (RFC 5321 s4.5.1): without a mailbox or alias of its own it goes to router.postmaster.
/// Pure: no I/O, no actors. Its tables
/// (local domains, mailboxes, aliases, catch-alls) can be replaced while it runs (<see cref="Reload"/>,
/// on SIGHUP); each decision uses one version of them.
/// </summary>
public sealed class RoutingPolicy
{
    private const int MaxAliasDepth = 10;
    private volatile InUse _inUse;

    public RoutingPolicy(RouterSettings settings) => _inUse = new InUse(settings, settings.PostmasterAddress);

    /// <summary>Takes the routing tables of <paramref name="settings"/> for the decisions from now on.</summary>
    public void Reload(RouterSettings settings) => _inUse = new InUse(settings, settings.PostmasterAddress);

    /// <summary>router.postmaster of the tables in use: where RCPT TO:&lt;Postmaster&gt; goes.</summary>
    public MailAddress Postmaster => _inUse.Postmaster;

    /// <summary>RFC 5321 s4.5.1: the postmaster must take mail; a warning to log when <paramref name="postmaster"/> (router.postmaster) reaches no mailbox.</summary>
    public string? PostmasterProblem(MailAddress postmaster) =>
        Decide(postmaster, mayRelay: true).Accepted
            ? null
            : $"router.postmaster {postmaster} is neither a local mailbox nor an alias: RCPT TO:<postmaster> gets 550, and RFC 5321 s4.5.1 requires it to take mail";

    /// <summary>
    /// postmaster@ a local domain (any case), or router.postmaster, where RCPT TO:&lt;postmaster&gt;
    /// goes: the address a refused client is told to write to, which policy refusals (such as a
    /// DNSBL listing) leave open, as RFC 5321 s4.5.1 and common practice want.
    /// </summary>
    public bool IsPostmaster(MailAddress recipient)
    {
        var inUse = _inUse;
        var key = recipient.Key;
        return IsLocalPostmaster(inUse.Settings, key, recipient.Domain.ToLowerInvariant()) || key == inUse.Postmaster.Key;
    }

    /// <param name="recipient">The RCPT address.</param>
    /// <param name="mayRelay">True for trusted or authenticated clients.</param>
    public RcptDecision Decide(MailAddress recipient, bool mayRelay)
    {
        var tables = _inUse.Settings;
        var key = recipient.Key;
        var domain = recipient.Domain.ToLowerInvariant();
        if (!tables.LocalDomains.Contains(domain) && Alias(tables, key) is null)
        {
            return mayRelay
                ? new RcptDecision([new Destination.Remote(recipient.ToString(), domain)], Replies.RecipientOk)
                : RcptDecision.Refuse(Replies.RelayDenied);
        }

        var destinations = new List<Destination>();
        if (IsUnmappedPostmaster(tables, key, domain)) key = tables.PostmasterAddress.Key;
        if (!Expand(tables, key, destinations, 0)) return RcptDecision.Refuse(Replies.NoSuchUser);
        return new RcptDecision(destinations.Distinct().ToArray(), Replies.RecipientOk);
    }

    /// <summary>
    /// postmaster@local-domain that no mailbox or alias has (RFC 5321 s4.5.1 "MUST be supported"
    /// at every domain served; Postfix maps it for all of $mydestination): it takes router.postmaster's
    /// route, before any catch-all, since abuse and bounce reports belong with the postmaster.
    /// </summary>
    private static bool IsUnmappedPostmaster(RouterSettings tables, string key, string domain) =>
        IsLocalPostmaster(tables, key, domain) && !tables.Mailboxes.Contains(key) && !tables.Aliases.ContainsKey(key);

    /// <summary>postmaster@ a local domain (<paramref name="key"/> lower case, <paramref name="domain"/> its domain).</summary>
    private static bool IsLocalPostmaster(RouterSettings tables, string key, string domain) =>
        key.Length == "postmaster@".Length + domain.Length
        && key.StartsWith("postmaster@", StringComparison.Ordinal)
        && tables.LocalDomains.Contains(domain);

    /// <summary>
    /// The first alias or catch-all target of <paramref name="tables"/> that reaches no mailbox
    /// (a local address without one, an alias loop, no domain), described for the operator; null
    /// when every target reaches one. The tables are refused with such a target: a message for the
    /// alias would otherwise be accepted and that copy lost without a trace.
    /// </summary>
    public static string? UnreachableTarget(RouterSettings tables)
    {
        var scratch = new List<Destination>();
        foreach (var (alias, targets) in tables.Aliases)
        {
            foreach (var target in targets)
            {
                if (!Expand(tables, target.ToLowerInvariant(), scratch, 1)) return $"router.aliases: {alias} -> {target} reaches no mailbox (no such local mailbox, alias or catch-all, or an alias loop)";
            }
        }
        foreach (var (domain, target) in tables.CatchAll)
        {
            if (!Expand(tables, target, scratch, 1)) return $"router.catch-all: {domain} -> {target} reaches no mailbox";
        }
        return null;
    }

    /// <summary>
    /// Adds where <paramref name="key"/> goes to <paramref name="into"/>; false when it reaches
    /// nothing. <paramref name="reachedAs"/> is the address a mailbox found at the end is delivered
    /// to (its Delivered-To): the key (null), or, once its extension is cut, the key with its extension.
    /// </summary>
    private static bool Expand(RouterSettings tables, string key, List<Destination> into, int depth, string? reachedAs = null)
    {
        if (depth > MaxAliasDepth) return false;
        if (Alias(tables, key) is { } targets)
        {
            var any = false;
            foreach (var target in targets) any |= Expand(tables, target.ToLowerInvariant(), into, depth + 1);
            return any;
        }
        var at = key.LastIndexOf('@');
        if (at <= 0) return false;
        var domain = key[(at + 1)..];
        if (!tables.LocalDomains.Contains(domain))
        {
            // An alias may point anywhere: the operator chose the target, not the client.
            into.Add(new Destination.Remote(key, domain));
            return true;
        }
        if (tables.Mailboxes.Contains(key))
        {
            into.Add(new Destination.Mailbox(key) { DeliveredTo = reachedAs ?? key });
            return true;
        }
        // user+news@domain: the mailbox (or alias) user@domain takes it, before any catch-all.
        if (WithoutExtension(tables, key) is { } bare)
        {
            return Expand(tables, bare, into, depth + 1, reachedAs ?? key);
        }
        if (tables.CatchAll.TryGetValue(domain, out var catchAll) && depth < MaxAliasDepth && catchAll != key)
        {
            return Expand(tables, catchAll, into, depth + 1);
        }
        return false;
    }

    /// <summary>The alias of the whole address, else of the address without its extension (as Postfix's virtual_alias_maps looks them up).</summary>
    private static IReadOnlyList<string>? Alias(RouterSettings tables, string key) =>
        tables.Aliases.TryGetValue(key, out var targets) ? targets
        : WithoutExtension(tables, key) is { } bare && tables.Aliases.TryGetValue(bare, out targets) ? targets
        : null;

    /// <summary>"user+news@domain" -> "user@domain", or null when there is no extension.</summary>
    private static string? WithoutExtension(RouterSettings tables, string key) => AddressExtension.Strip(key, tables.RecipientDelimiter);

    /// <summary>The tables in use and their postmaster address, replaced together.</summary>
    private sealed record InUse(RouterSettings Settings, MailAddress Postmaster);
}
