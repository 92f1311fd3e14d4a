using System.CommandLine;
using Router.Actors.Configuration;
using Router.Actors.Security;

namespace Router.Host;

/// <summary>
/// `router check`: what `postfix check` is for Postfix. Reads and builds the configuration as a
/// start (or a SIGHUP) does (<see cref="NodeConfiguration.Read"/>: static routes, name servers,
/// trusted networks, DNS blocklists, the queue store, DKIM keys, relay.auth password files), with
/// the configured TLS certificate, without starting anything, connecting anywhere or creating a file:
/// one line on what is wrong and exit code 2, else a summary and 0 (warnings, such as a misspelt
/// setting, are printed and do not fail it).
/// </summary>
internal static class CheckCommand
{
    public static Command Create(Option<FileInfo?> configOption)
    {
        var check = new Command("check", "Check the configuration (settings, TLS certificate, DKIM keys, users file, postmaster) without starting the router");
        check.SetAction(result => Run(result.GetValue(configOption)?.FullName));
        return check;
    }

    /// <summary>What does not load throws (the host prints it in one line, exit code 2).</summary>
    private static int Run(string? configPath)
    {
        var (config, settings) = ConfigLoader.Load(configPath);
        var configuration = NodeConfiguration.Read(config, settings);
        var security = settings.Security;
        var tls = "a self-signed TLS certificate (made at the first start)";
        if (!string.IsNullOrEmpty(security.TlsCertificate))
        {
            using var certificate = ServerCertificate.Load(security.TlsCertificate, security.TlsKey, settings.DataDir, settings.Hostname).Certificate;
            tls = $"TLS certificate {ServerCertificate.Describe(certificate)}";
            if (certificate.NotAfter < DateTime.Now) Console.Error.WriteLine($"router: warning: the TLS certificate {security.TlsCertificate} expired on {certificate.NotAfter:yyyy-MM-dd}");
        }
        foreach (var warning in configuration.Warnings) Console.Error.WriteLine($"router: warning: {warning}");
        new UserStore(security.UsersFileIn(settings.DataDir), warning => Console.Error.WriteLine($"router: warning: {warning}")).Load();
        var relayAuth = configuration.RelayCredentials.Count > 0 ? $"; relay.auth credentials for {configuration.RelayCredentials.Count} next hops" : "";
        var dnsbl = configuration.Dnsbl.Count > 0 ? $", DNSBL {string.Join(", ", configuration.Dnsbl)}" : "";
        Console.WriteLine($"router: configuration OK: {settings.RoutingSummary}, {security.Dkim.Count} DKIM domains{dnsbl}; {tls}{relayAuth}");
        return 0;
    }
}
