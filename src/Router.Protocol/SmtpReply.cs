using System.Text;

namespace Router.Protocol;

/// <summary>
/// One SMTP reply (RFC 5321 s4.2): a three-digit code, an optional enhanced status code
/// (RFC 3463, sent on every line as RFC 2034 asks) and one or more text lines.
/// The wire form is formatted once, at construction, so static replies cost nothing to send.
/// </summary>
public sealed class SmtpReply
{
    public SmtpReply(int code, string? enhanced, params string[] lines)
    {
        if (code is < 200 or > 599) throw new ArgumentOutOfRangeException(nameof(code));
        if (lines.Length == 0) lines = [""];
        Code = code;
        Enhanced = enhanced;
        Lines = lines;
        Bytes = Format(code, enhanced, lines);
    }

    public int Code { get; }

    /// <summary>The RFC 3463 code such as "2.1.0", or null where none applies (220, 221 greetings may still carry one).</summary>
    public string? Enhanced { get; }

    public IReadOnlyList<string> Lines { get; }

    /// <summary>The reply as sent on the wire, CRLF terminated.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    public bool IsPositive => Code < 400;
    public bool IsTransient => Code is >= 400 and < 500;
    public bool IsPermanent => Code >= 500;

    /// <summary>The text of all lines joined by a space, for logs and DSN diagnostic codes.</summary>
    public string Text => string.Join(' ', Lines);

    public override string ToString() => Enhanced is null ? $"{Code} {Text}" : $"{Code} {Enhanced} {Text}";

    private static byte[] Format(int code, string? enhanced, string[] lines)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            sb.Append(code).Append(i == lines.Length - 1 ? ' ' : '-');
            if (enhanced is not null) sb.Append(enhanced).Append(' ');
            foreach (var ch in lines[i])
            {
                // A reply never carries a bare CR or LF: a text that came from a peer cannot split it.
                sb.Append(ch is '\r' or '\n' || char.IsControl(ch) ? ' ' : ch);
            }
            sb.Append("\r\n");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}
