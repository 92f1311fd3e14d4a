namespace Router.Protocol;

/// <summary>
/// A mailbox address (RFC 5321 s4.1.2 Mailbox): local part and domain, as they appear on the wire
/// after a quoted local part is kept in its quoted form. Domains compare case-insensitively; local
/// parts are kept as given (RFC 5321 s2.4) and compared by the routing policy.
/// </summary>
public sealed record MailAddress(string LocalPart, string Domain)
{
    /// <summary>True when the address has non-ASCII characters and needs SMTPUTF8 (RFC 6531).</summary>
    public bool IsUtf8 => !IsAscii(LocalPart) || !IsAscii(Domain);

    public override string ToString() => LocalPart + "@" + Domain;

    /// <summary>The lower-cased "local@domain" key used for mailbox and alias lookups.</summary>
    public string Key => ToString().ToLowerInvariant();

    /// <summary>"local@domain" as stored in the queue and the tables (split at the last '@'; the text is known to be an address).</summary>
    public static MailAddress FromText(string address)
    {
        var at = address.LastIndexOf('@');
        return new MailAddress(address[..at], address[(at + 1)..]);
    }

    /// <summary>Whether <paramref name="address"/> ("local@domain") is this address, in any case; allocates nothing.</summary>
    public bool Is(string address) =>
        address.Length == LocalPart.Length + 1 + Domain.Length
        && address[LocalPart.Length] == '@'
        && address.AsSpan(0, LocalPart.Length).Equals(LocalPart, StringComparison.OrdinalIgnoreCase)
        && address.AsSpan(LocalPart.Length + 1).Equals(Domain, StringComparison.OrdinalIgnoreCase);

    private static bool IsAscii(string s)
    {
        foreach (var c in s) if (c > 0x7f) return false;
        return true;
    }
}
