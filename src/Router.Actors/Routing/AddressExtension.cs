namespace Router.Actors.Routing;

/// <summary>
/// Address extensions (Postfix's recipient_delimiter): "user+news@domain" is "user@domain" with
/// the extension "news". Routing delivers it to user@domain's mailbox or alias; the submission
/// sender check lets user@domain's owner send as it.
/// </summary>
public static class AddressExtension
{
    /// <summary>
    /// <paramref name="key"/> (a lower-cased address) without its extension: cut at the first of the
    /// <paramref name="delimiters"/> in the local part, not at its start. Null when there is none.
    /// </summary>
    public static string? Strip(string key, string delimiters)
    {
        if (delimiters.Length == 0) return null;
        var at = key.LastIndexOf('@');
        var cut = at > 0 ? key.AsSpan(0, at).IndexOfAny(delimiters) : -1;
        return cut > 0 ? string.Concat(key.AsSpan(0, cut), key.AsSpan(at)) : null;
    }
}
