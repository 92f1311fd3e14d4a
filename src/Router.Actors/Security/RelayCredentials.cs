using Akka.Configuration;
using Router.Actors.Configuration;
using Router.Actors.Delivery;
using Router.Protocol.Sasl;

namespace Router.Actors.Security;

/// <summary>
/// What the outbound client authenticates with at a next hop (router.relay.auth; Postfix's
/// smtp_sasl_password_maps): "host:port" -> user and password, each password read from its file
/// when the configuration is read; a node's set is replaced on SIGHUP (<see cref="Replace"/>), so a
/// changed password file takes effect without a restart. A password is never in a log line, an
/// error or a ToString.
/// </summary>
public sealed class RelayCredentials
{
    private volatile IReadOnlyDictionary<string, SaslCredentials> _byNextHop;

    private RelayCredentials(IReadOnlyDictionary<string, SaslCredentials> byNextHop) => _byNextHop = byNextHop;

    /// <summary>No next hop has credentials: the client never authenticates.</summary>
    public static RelayCredentials None { get; } = new(new Dictionary<string, SaslCredentials>());

    /// <summary>The next hops ("host:port") with credentials, and the user of each.</summary>
    public IReadOnlyDictionary<string, string> Users => _byNextHop.ToDictionary(e => e.Key, e => e.Value.User);

    public int Count => _byNextHop.Count;

    /// <summary>The credentials for a connection to <paramref name="host"/> (a route's or an MX host's name, or an address) on <paramref name="port"/>; null for none.</summary>
    public SaslCredentials? For(string host, int port) => _byNextHop.GetValueOrDefault(NextHop.Key(host, port));

    /// <summary>
    /// SIGHUP: the credentials read again (<paramref name="loaded"/>, whose files all loaded) are
    /// used from the next connection on; a pooled connection stays authenticated as it was.
    /// </summary>
    public void Replace(RelayCredentials loaded)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        if (ReferenceEquals(this, None)) throw new InvalidOperationException("the empty set shared by all is never replaced");
        _byNextHop = loaded._byNextHop;
    }

    /// <summary>
    /// Reads every password file into a set of its own (even an empty one, which a reload may fill);
    /// one that is missing, unreadable, empty or of several lines fails naming its entry and file,
    /// never quoting it.
    /// </summary>
    public static RelayCredentials Load(IReadOnlyDictionary<string, RelayAuthSettings> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var loaded = new Dictionary<string, SaslCredentials>(StringComparer.Ordinal);
        foreach (var (nextHop, entry) in settings)
        {
            loaded[nextHop] = new SaslCredentials(entry.User, ReadPassword(entry.PasswordFile, $"router.relay.auth \"{nextHop}\""));
        }
        return new RelayCredentials(loaded);
    }

    /// <summary>
    /// The password files that users other than the router's may read (mode bits for group or
    /// others), as warnings: the file holds a secret that opens the provider's account.
    /// </summary>
    public static IEnumerable<string> ExposedFiles(IReadOnlyDictionary<string, RelayAuthSettings> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (OperatingSystem.IsWindows()) yield break;
        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        foreach (var (nextHop, entry) in settings)
        {
            if ((File.GetUnixFileMode(entry.PasswordFile) & others) != 0)
                yield return $"router.relay.auth \"{nextHop}\": password-file {entry.PasswordFile} is readable by other users (chmod 600 it)";
        }
    }

    /// <summary>The file's one line, without its line ending; the password itself never goes into an exception.</summary>
    private static string ReadPassword(string file, string setting)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigurationException($"{setting}: password-file {file} does not exist");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{setting}: cannot read password-file {file}: {e.Message}");
        }
        var password = text.TrimEnd('\r', '\n');
        if (password.Length == 0) throw new ConfigurationException($"{setting}: password-file {file} is empty");
        if (password.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            throw new ConfigurationException($"{setting}: password-file {file} must hold the password alone on one line");
        return password;
    }
}
