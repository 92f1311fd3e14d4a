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

    private static bool IsAscii(string s)
    {
        foreach (var c in s) if (c > 0x7f) return false;
        return true;
    }
}
