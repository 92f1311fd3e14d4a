using Akka.Configuration;
using Router.Actors.Dnsbl;
using Router.Actors.Routing;
using Router.Actors.Security;

namespace Router.Actors.Configuration;

/// <summary>
/// What a node builds from its configuration before it starts anything: the delivery and queue
/// settings (static routes, name servers, the queue store), the trusted networks, the DNS
/// blocklists, the seed nodes, the DKIM signers and the credentials for next hops (their password
/// files read). <see cref="Read"/> connects nowhere and writes no file; the start, a
/// SIGHUP and `router check` all go through it, so a configuration that check or a reload passes
/// is one the next start takes.
/// </summary>
public sealed class NodeConfiguration
{
    private NodeConfiguration(RouterSettings settings, DeliverySettings delivery, TrustedNetworks trusted, IReadOnlyList<DnsblSite> dnsbl, IReadOnlyList<Akka.Actor.Address> seedNodes, DkimMessageSigner? dkim, RelayCredentials relayCredentials, IReadOnlyList<string> warnings)
    {
        RelayCredentials = relayCredentials;
        Settings = settings;
        Delivery = delivery;
        Trusted = trusted;
        Dnsbl = dnsbl;
        SeedNodes = seedNodes;
        Dkim = dkim;
        Warnings = warnings;
    }

    public RouterSettings Settings { get; }

    public DeliverySettings Delivery { get; }

    /// <summary>router.relay.trusted-networks, parsed.</summary>
    public TrustedNetworks Trusted { get; }

    /// <summary>router.smtp.dnsbl, parsed; empty: no list is asked.</summary>
    public IReadOnlyList<DnsblSite> Dnsbl { get; }

    /// <summary>akka.cluster.seed-nodes; empty: the node forms a cluster of its own.</summary>
    public IReadOnlyList<Akka.Actor.Address> SeedNodes { get; }

    /// <summary>The signers of router.dkim's domains, their keys loaded; null when there are none.</summary>
    public DkimMessageSigner? Dkim { get; }

    /// <summary>router.relay.auth with its passwords read; <see cref="RelayCredentials.None"/> when it is empty.</summary>
    public RelayCredentials RelayCredentials { get; }

    /// <summary>What is allowed but probably wrong (a postmaster that reaches no mailbox), to print or log.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Builds everything; a value the node would refuse at start throws a <see cref="ConfigurationException"/> naming the setting.</summary>
    public static NodeConfiguration Read(Config config, RouterSettings settings)
    {
        var delivery = DeliverySettings.FromConfig(config);
        var trusted = SettingReads.Build("router.relay.trusted-networks", () => new TrustedNetworks(settings.TrustedNetworks));
        var dnsbl = SettingReads.Build("router.smtp.dnsbl", () => settings.Dnsbl.Select(DnsblSite.Parse).ToArray());
        if (dnsbl.GroupBy(site => site.Zone, StringComparer.Ordinal).FirstOrDefault(zone => zone.Count() > 1) is { } twice)
            throw new ConfigurationException($"router.smtp.dnsbl: {twice.Key} is listed more than once (one entry per zone; its filter can take several codes: {twice.Key}=127.0.0.[2;4..11])");
        var seedNodes = SettingReads.Build("akka.cluster.seed-nodes", () => config.GetStringList("akka.cluster.seed-nodes").Select(Akka.Actor.Address.Parse).ToArray());
        var dkim = settings.Security.Dkim.Count > 0 ? DkimMessageSigner.FromSettings(settings.Security.Dkim) : null;
        var relayAuth = settings.Security.RelayAuth;
        foreach (var nextHop in relayAuth.Keys)
        {
            // AUTH goes only under TLS: a next hop whose policy turns TLS off could never get the mail.
            if (delivery.TlsPolicy.TryGetValue(nextHop, out var policy) && policy == "off")
                throw new ConfigurationException($"router.relay.auth \"{nextHop}\": router.delivery.tls-policy \"{nextHop}\" is off, and credentials are only ever sent under TLS");
        }
        var relayCredentials = RelayCredentials.Load(relayAuth);
        var warnings = new List<string>();
        if (new RoutingPolicy(settings).PostmasterProblem(settings.PostmasterAddress) is { } problem) warnings.Add(problem);
        warnings.AddRange(RelayCredentials.ExposedFiles(relayAuth));
        return new NodeConfiguration(settings, delivery, trusted, dnsbl, seedNodes, dkim, relayCredentials, warnings);
    }
}
