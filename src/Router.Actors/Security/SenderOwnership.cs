using Router.Actors.Routing;
using Router.Protocol;

namespace Router.Actors.Security;

/// <summary>
/// Which envelope senders an authenticated user may use on submission (Postfix's
/// smtpd_sender_login_maps with reject_sender_login_mismatch): per user a list of addresses and
/// "@domain" entries; a user without an entry owns only their own name, when it is an address.
/// </summary>
public sealed class SenderOwnership
{
    private readonly Dictionary<string, string[]> _maps;

    public SenderOwnership(IReadOnlyDictionary<string, IReadOnlyList<string>> maps) =>
        _maps = maps.ToDictionary(m => m.Key.ToLowerInvariant(), m => m.Value.Select(v => v.Trim().ToLowerInvariant()).ToArray(), StringComparer.Ordinal);

    public static readonly SenderOwnership Default = new(new Dictionary<string, IReadOnlyList<string>>());

    /// <summary>
    /// True when <paramref name="user"/> may send as <paramref name="sender"/>. An address extension
    /// (<paramref name="recipientDelimiter"/>, router.recipient-delimiter) does not change the
    /// owner: alice+tag@example.test is alice@example.test's, as Postfix looks up
    /// smtpd_sender_login_maps (the whole address, then without its extension, then "@domain").
    /// </summary>
    public bool Owns(string user, MailAddress sender, string recipientDelimiter)
    {
        var address = sender.Key;
        var bare = AddressExtension.Strip(address, recipientDelimiter) ?? address;
        var domain = "@" + sender.Domain.ToLowerInvariant();
        var login = user.ToLowerInvariant();
        if (!_maps.TryGetValue(login, out var owned)) return login.Contains('@') && (login == address || login == bare);
        foreach (var entry in owned)
        {
            if (entry == address || entry == bare || entry == domain) return true;
        }
        return false;
    }
}
