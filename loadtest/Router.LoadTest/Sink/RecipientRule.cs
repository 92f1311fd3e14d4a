using System.Text.RegularExpressions;

namespace Router.LoadTest.Sink;

/// <summary>
/// "REGEX=CODE" from --fail-rcpt-pattern: a RCPT address matching the pattern gets that reply
/// code (4xx temporary, 5xx permanent, RFC 5321 s4.2.1) so relay tests can fail chosen recipients.
/// </summary>
public sealed record RecipientRule(Regex Pattern, int Code)
{
    /// <summary>Parses "REGEX=CODE", splitting at the last '=' so the pattern may contain '='.</summary>
    public static RecipientRule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var eq = text.LastIndexOf('=');
        if (eq <= 0 || !int.TryParse(text.AsSpan(eq + 1), out var code) || code is < 400 or > 599)
            throw new FormatException($"'{text}' is not REGEX=CODE with a 4xx or 5xx code");
        return new RecipientRule(new Regex(text[..eq], RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)), code);
    }
}
