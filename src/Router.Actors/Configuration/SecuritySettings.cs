using Akka.Configuration;

namespace Router.Actors.Configuration;

/// <summary>
/// The <c>router.tls</c>, <c>router.auth</c>, <c>router.submission</c>, <c>router.dkim</c> and
/// <c>router.relay.auth</c> sections: the server certificate, SMTP AUTH users and failure limits,
/// the submission sender policy (RFC 6409), DKIM keys and the credentials for next hops. Defaults
/// and one-line explanations live in config/akka.hocon.
/// </summary>
public sealed record SecuritySettings
{
    /// <summary>PEM certificate (chain) path; null = a self-signed one under &lt;data-dir&gt;/tls/.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>PEM private key path; null = in the certificate file.</summary>
    public string? TlsKey { get; init; }

    /// <summary>The users file; null = &lt;data-dir&gt;/users.</summary>
    public string? UsersFile { get; init; }

    public int AuthFailureDelayAfter { get; init; } = 3;
    public TimeSpan AuthFailureDelay { get; init; } = TimeSpan.FromSeconds(1);
    public int AuthMaxFailures { get; init; } = 10;
    public TimeSpan AuthFailureWindow { get; init; } = TimeSpan.FromMinutes(10);

    public bool EnforceSender { get; init; } = true;
    public IReadOnlyDictionary<string, IReadOnlyList<string>> SenderLoginMaps { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    public IReadOnlyDictionary<string, DkimDomainSettings> Dkim { get; init; } = new Dictionary<string, DkimDomainSettings>();

    /// <summary>router.relay.auth: next hop ("host:port", <see cref="Delivery.NextHop"/>) -> user and password file.</summary>
    public IReadOnlyDictionary<string, RelayAuthSettings> RelayAuth { get; init; } = new Dictionary<string, RelayAuthSettings>();

    /// <summary>
    /// How long the answer to a failed AUTH waits: nothing for the first
    /// <see cref="AuthFailureDelayAfter"/> failures, then one more <see cref="AuthFailureDelay"/>
    /// per further failure, at most ten of them.
    /// </summary>
    public TimeSpan DelayAfterFailures(int failures) =>
        failures <= AuthFailureDelayAfter ? TimeSpan.Zero : AuthFailureDelay * Math.Min(10, failures - AuthFailureDelayAfter);

    public string UsersFileIn(string dataDir) => UsersFile ?? Path.Combine(dataDir, "users");

    internal static SecuritySettings FromConfig(Config r, Func<string, string, string> pathOf)
    {
        string? OptionalPath(string key)
        {
            var value = r.GetString(key, "");
            return value.Length == 0 ? null : pathOf(key, value);
        }

        var maps = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (user, value) in r.Map("submission.sender-login-maps"))
        {
            var owned = value.Texts($"router.submission.sender-login-maps \"{user}\"");
            maps[user.ToLowerInvariant()] = owned.Select(o => o.Trim().ToLowerInvariant()).ToArray();
        }

        var dkim = new Dictionary<string, DkimDomainSettings>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in r.Map("dkim", entriesAreObjects: true))
        {
            if (!value.IsObject()) throw new ConfigurationException($"router.dkim.\"{name}\" must be {{ selector = ..., key = ... }}");
            var entry = new Config(new Akka.Configuration.Hocon.HoconRoot(value));
            var selector = entry.GetString("selector", "");
            var key = entry.GetString("key", "");
            if (selector.Length == 0 || key.Length == 0)
                throw new ConfigurationException($"router.dkim.\"{name}\" needs both selector and key");
            dkim[name.ToLowerInvariant()] = new DkimDomainSettings(selector, pathOf("dkim", key));
        }

        return new SecuritySettings
        {
            RelayAuth = RelayAuthOf(r, pathOf),
            TlsCertificate = OptionalPath("tls.certificate"),
            TlsKey = OptionalPath("tls.key"),
            UsersFile = OptionalPath("auth.users-file"),
            AuthFailureDelayAfter = r.Int("auth.failure-delay-after", 3, min: 0),
            AuthFailureDelay = r.Duration("auth.failure-delay", TimeSpan.FromSeconds(1)),
            // 0 refused every AUTH, the right password too (a user's count is never below it).
            AuthMaxFailures = r.Int("auth.max-failures", 10, min: 1),
            AuthFailureWindow = r.PositiveDuration("auth.failure-window", TimeSpan.FromMinutes(10)),
            EnforceSender = r.Flag("submission.enforce-sender", true),
            SenderLoginMaps = maps,
            Dkim = dkim,
        };
    }

    /// <summary>
    /// router.relay.auth: "host:port" { user = ..., password-file = ... } per next hop. The key is
    /// normalised as routes write hosts (<see cref="Delivery.NextHop.ParseKey"/>); a password
    /// written in the configuration, or any key but these two, is refused (a misspelt
    /// password-file would otherwise leave the next hop without credentials).
    /// </summary>
    private static Dictionary<string, RelayAuthSettings> RelayAuthOf(Config r, Func<string, string, string> pathOf)
    {
        var mxPort = r.Int("delivery.mx-port", new DeliverySettings().MxPort);
        var entries = new Dictionary<string, RelayAuthSettings>(StringComparer.Ordinal);
        foreach (var (name, value) in r.Map("relay.auth", entriesAreObjects: true))
        {
            var setting = $"router.relay.auth \"{name}\"";
            if (value.GetObject() is not { } entry) throw new ConfigurationException($"{setting} must be {{ user = ..., password-file = ... }}");
            var key = SettingReads.Build(setting, () => Delivery.NextHop.ParseKey(name, mxPort));
            foreach (var field in entry.Items.Keys.Select(k => k.Trim('"')))
            {
                if (field == "password")
                    throw new ConfigurationException($"{setting}: a password is never written in the configuration; put it in a file readable by the router only and name that file with password-file");
                if (field is not ("user" or "password-file"))
                    throw new ConfigurationException($"{setting}: \"{field}\" is not a setting of a next hop (user, password-file)");
            }
            var user = entry.Items.TryGetValue("user", out var u) ? u.Text($"{setting} user").Trim() : "";
            var file = entry.Items.TryGetValue("password-file", out var f) ? f.Text($"{setting} password-file").Trim() : "";
            if (user.Length == 0 || file.Length == 0) throw new ConfigurationException($"{setting} needs both user and password-file");
            if (user.Contains('\0', StringComparison.Ordinal)) throw new ConfigurationException($"{setting} user must not contain a NUL character");
            if (!entries.TryAdd(key, new RelayAuthSettings(user, pathOf("relay.auth", file))))
                throw new ConfigurationException($"{setting}: next hop {key} is given more than once");
        }
        return entries;
    }
}
