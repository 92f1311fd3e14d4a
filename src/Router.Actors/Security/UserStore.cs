using System.Text;

namespace Router.Actors.Security;

/// <summary>
/// The users who may AUTH (RFC 4954), one per line of a text file:
/// <c>name:pbkdf2-sha256:iterations:salt-b64:hash-b64</c> (# starts a comment). Names are
/// compared case-insensitively. The file is read again when it changes, so <c>router user add</c>
/// takes effect without a restart; it is written atomically (temporary file and rename) and
/// readable by its owner only. A line that is no user is ignored with a warning, at each reading,
/// that names the file and line but never quotes it (it may hold a password). Like htpasswd,
/// <see cref="Set"/> and <see cref="Remove"/> rewrite only the named user's line: the operator's
/// comments, blank lines and lines that are no user stay as they were, where they were.
/// </summary>
public sealed class UserStore
{
    private readonly object _gate = new();
    private Dictionary<string, string> _users = new(StringComparer.Ordinal);
    private string[] _lines = [];
    private (DateTime Modified, long Length) _loaded = (DateTime.MinValue, -1);

    private readonly Action<string>? _warn;

    /// <param name="warn">Told of each line of the file that is no user, when the file is read.</param>
    public UserStore(string path, Action<string>? warn = null)
    {
        FilePath = path;
        _warn = warn;
    }

    public string FilePath { get; }

    /// <summary>Checks a password; costs one PBKDF2 whether or not the user exists.</summary>
    public bool Verify(string user, string password)
    {
        string? encoded;
        lock (_gate)
        {
            Refresh();
            _users.TryGetValue(Normalize(user), out encoded);
        }
        if (encoded is null)
        {
            PasswordHash.VerifyNothing(password);
            return false;
        }
        return PasswordHash.Verify(password, encoded);
    }

    /// <summary>Reads the file now, changed or not (at start and on SIGHUP), so that its warnings are given then rather than at the first AUTH.</summary>
    public void Load()
    {
        lock (_gate)
        {
            Refresh(force: true);
        }
    }

    public IReadOnlyList<string> List()
    {
        lock (_gate)
        {
            Refresh();
            return _users.Keys.Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>Adds the user, or sets a new password; true when the user already existed.</summary>
    public bool Set(string user, string password, int iterations = PasswordHash.DefaultIterations)
    {
        var name = CheckName(user);
        if (password.Length == 0) throw new ArgumentException("the password is empty", nameof(password));
        var encoded = PasswordHash.Create(password, iterations);
        lock (_gate)
        {
            Refresh();
            var existed = _users.ContainsKey(name);
            Write(Rewrite(_lines, name, $"{name}:{encoded}", out _));
            return existed;
        }
    }

    /// <summary>Removes the user's line (also one that is no valid user); false when there was none.</summary>
    public bool Remove(string user)
    {
        lock (_gate)
        {
            Refresh();
            var lines = Rewrite(_lines, Normalize(user), null, out var found);
            if (!found) return false;
            Write(lines);
            return true;
        }
    }

    /// <summary>A user name may not hold ':' (the field separator), whitespace or control characters.</summary>
    public static string CheckName(string user)
    {
        if (user.Length is 0 or > 256 || user.Any(c => c == ':' || c == '#' || char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new ArgumentException($"'{user}' is not a valid user name (no ':', '#', spaces or control characters; 1 to 256 characters)", nameof(user));
        return Normalize(user);
    }

    private static string Normalize(string user) => user.ToLowerInvariant();

    /// <summary>Reads the file when it changed since the last reading (or always, <paramref name="force"/>).</summary>
    private void Refresh(bool force = false)
    {
        var info = new FileInfo(FilePath);
        var stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1L);
        if (stamp == _loaded && !force) return;
        _lines = info.Exists ? File.ReadAllLines(FilePath) : [];
        _users = Parse(_lines, _warn);
        _loaded = stamp;
    }

    /// <summary>The users of <paramref name="lines"/>; each line that is no user is told to <paramref name="warn"/> by number.</summary>
    private Dictionary<string, string> Parse(string[] lines, Action<string>? warn)
    {
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var colon = line.IndexOf(':');
            var encoded = colon > 0 ? line[(colon + 1)..] : "";
            if (PasswordHash.IsWellFormed(encoded)) users[Normalize(line[..colon])] = encoded;
            else warn?.Invoke($"{FilePath} line {i + 1} is not name:pbkdf2-sha256:iterations:salt:hash (a password must be set with `router user add`); the line is ignored");
        }
        return users;
    }

    /// <summary>
    /// <paramref name="lines"/> with the line of user <paramref name="name"/> (<c>name:...</c>,
    /// whether or not the rest is a valid hash) replaced by <paramref name="replacement"/>, or
    /// removed when it is null; a second line of the same user goes. Without such a line the
    /// replacement is appended (after a heading, in a new file). Every other line is kept as it was.
    /// </summary>
    private static string[] Rewrite(string[] lines, string name, string? replacement, out bool found)
    {
        var result = new List<string>(lines.Length + 2);
        found = false;
        foreach (var line in lines)
        {
            if (NameOf(line) != name)
            {
                result.Add(line);
                continue;
            }
            if (!found && replacement is not null) result.Add(replacement);
            found = true;
        }
        if (!found && replacement is not null)
        {
            if (result.Count == 0) result.Add("# Router users: name:pbkdf2-sha256:iterations:salt:hash (edit with `router user`)");
            result.Add(replacement);
        }
        return [.. result];
    }

    /// <summary>The user a line is for (lower-cased), or null for a comment, a blank line or a line without a name and ':'.</summary>
    private static string? NameOf(string line)
    {
        var text = line.Trim();
        if (text.Length == 0 || text[0] == '#') return null;
        var colon = text.IndexOf(':');
        return colon > 0 ? Normalize(text[..colon]) : null;
    }

    private void Write(string[] lines)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(FilePath))!;
        Directory.CreateDirectory(folder);
        var text = new StringBuilder();
        foreach (var line in lines) text.Append(line).Append('\n');
        SecretFile.Write(FilePath, Encoding.UTF8.GetBytes(text.ToString()), ownerOnly: true);
        _lines = lines;
        _users = Parse(lines, warn: null);
        var info = new FileInfo(FilePath);
        _loaded = (info.LastWriteTimeUtc, info.Length);
    }
}
