namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>One complete server reply: its code and every line as received (without CRLF).</summary>
public sealed record SmtpResponse(int Code, IReadOnlyList<string> Lines)
{
    /// <summary>The RFC 3463 enhanced code of the last line ("x.y.z"), or null.</summary>
    public string? EnhancedCode
    {
        get
        {
            var last = Lines[^1];
            if (last.Length < 5) return null;
            var word = last[4..].Split(' ', 2)[0];
            var parts = word.Split('.');
            return parts.Length == 3 && parts[0].Length == 1 && parts[0][0] == last[0] && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit))
                ? word
                : null;
        }
    }

    public string Text => string.Join("\n", Lines);

    public override string ToString() => Text;
}
