using System.Diagnostics;

namespace Router.Actors.Mailbox;

/// <summary>
/// One Maildir (the layout Dovecot and every Maildir tool read): <c>tmp/</c>, <c>new/</c>,
/// <c>cur/</c> under <c>&lt;root&gt;/&lt;domain&gt;/&lt;user&gt;</c>, and unique file names of the form
/// <c>seconds.M&lt;usec&gt;P&lt;pid&gt;Q&lt;n&gt;.&lt;host&gt;,S=&lt;size&gt;</c> (S= lets Dovecot skip a stat).
/// </summary>
public sealed class MaildirFolder
{
    private static readonly int Pid = Environment.ProcessId;
    private static long _counter;
    private readonly string _host;
    private bool _created;

    public MaildirFolder(string root, string mailbox, string hostname)
    {
        var at = mailbox.LastIndexOf('@');
        var user = Sanitize(mailbox[..at]);
        var domain = Sanitize(mailbox[(at + 1)..]);
        Path = System.IO.Path.Combine(root, domain, user);
        // '/' and ':' cannot appear in a Maildir name (':' starts the info part).
        _host = hostname.Replace('/', '\u2215').Replace(':', '\u2236');
    }

    public string Path { get; }

    public void EnsureCreated()
    {
        if (_created) return;
        foreach (var sub in new[] { "tmp", "new", "cur" }) Directory.CreateDirectory(System.IO.Path.Combine(Path, sub));
        _created = true;
    }

    /// <summary>A name for a new message of <paramref name="size"/> octets, unique on this host.</summary>
    public string NewFileName(long size)
    {
        var now = DateTimeOffset.UtcNow;
        var micro = now.Ticks / 10 % 1_000_000;
        var n = Interlocked.Increment(ref _counter);
        return $"{now.ToUnixTimeSeconds()}.M{micro}P{Pid}Q{n}.{_host},S={size}";
    }

    /// <summary>Maps an address part to a safe folder name: no path separators, no dot-only names.</summary>
    private static string Sanitize(string part)
    {
        var chars = part.ToLowerInvariant().Select(c => c is '/' or '\\' or '\0' ? '_' : c).ToArray();
        var s = new string(chars);
        Debug.Assert(s.Length > 0);
        return s is "." or ".." ? "_" + s : s;
    }
}
