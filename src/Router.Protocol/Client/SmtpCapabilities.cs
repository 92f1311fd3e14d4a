namespace Router.Protocol.Client;

/// <summary>
/// The service extensions a peer announced in its EHLO reply (RFC 5321 s4.1.1.1): one keyword
/// per line after the first, with optional parameters. Unknown keywords are kept in Keywords.
/// </summary>
public sealed class SmtpCapabilities
{
    private static readonly HashSet<string> Empty = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>What a HELO-only peer offers: nothing.</summary>
    public static SmtpCapabilities None { get; } = new(Empty, Empty, null);

    private SmtpCapabilities(HashSet<string> keywords, HashSet<string> auth, long? maxSize)
    {
        Keywords = keywords;
        AuthMechanisms = auth;
        MaxSize = maxSize;
    }

    /// <summary>Every keyword announced, upper-cased comparisons (OrdinalIgnoreCase).</summary>
    public IReadOnlySet<string> Keywords { get; }

    /// <summary>SASL mechanisms of the AUTH keyword (RFC 4954), case-insensitive.</summary>
    public IReadOnlySet<string> AuthMechanisms { get; }

    /// <summary>The SIZE limit in bytes (RFC 1870); null when SIZE is absent or announced without a fixed limit.</summary>
    public long? MaxSize { get; }

    public bool Pipelining => Keywords.Contains("PIPELINING");
    public bool Size => Keywords.Contains("SIZE");
    public bool EightBitMime => Keywords.Contains("8BITMIME");
    public bool SmtpUtf8 => Keywords.Contains("SMTPUTF8");
    public bool StartTls => Keywords.Contains("STARTTLS");
    public bool Chunking => Keywords.Contains("CHUNKING");
    public bool EnhancedStatusCodes => Keywords.Contains("ENHANCEDSTATUSCODES");
    public bool Dsn => Keywords.Contains("DSN");
    public bool Auth => AuthMechanisms.Count > 0;

    /// <summary>
    /// The mechanism a client authenticates with: PLAIN when offered (one round trip, RFC 4616),
    /// else LOGIN; null when the peer offers neither (none at all, or only others such as CRAM-MD5).
    /// </summary>
    public SmtpAuthMechanism? PreferredAuthMechanism =>
        AuthMechanisms.Contains("PLAIN") ? SmtpAuthMechanism.Plain
        : AuthMechanisms.Contains("LOGIN") ? SmtpAuthMechanism.Login
        : null;

    /// <summary>Reads the extension lines of a positive EHLO reply; the first line is the peer's name.</summary>
    public static SmtpCapabilities Parse(SmtpReply ehloReply)
    {
        var keywords = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var auth = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        long? maxSize = null;
        for (var i = 1; i < ehloReply.Lines.Count; i++)
        {
            var parts = ehloReply.Lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 0) continue;
            var keyword = parts[0];
            // Some old servers announce "AUTH=LOGIN PLAIN" beside (or instead of) "AUTH LOGIN PLAIN".
            if (keyword.StartsWith("AUTH=", StringComparison.OrdinalIgnoreCase))
            {
                auth.Add(keyword[5..]);
                keyword = "AUTH";
            }
            keywords.Add(keyword);
            if (keyword.Equals("AUTH", StringComparison.OrdinalIgnoreCase))
            {
                for (var p = 1; p < parts.Length; p++) auth.Add(parts[p]);
            }
            else if (keyword.Equals("SIZE", StringComparison.OrdinalIgnoreCase)
                && parts.Length > 1 && long.TryParse(parts[1], System.Globalization.NumberStyles.None, null, out var limit) && limit > 0)
            {
                maxSize = limit;
            }
        }
        return new SmtpCapabilities(keywords, auth, maxSize);
    }
}
