using System.Text;
using System.Text.RegularExpressions;
using MimeKit;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// A delivery status notification (RFC 3464) found in a local Maildir, parsed with MimeKit: the
/// multipart/report, its per-message fields, one field group per recipient, the returned
/// message or headers, and the Return-Path the router recorded at delivery (RFC 3461 s6.2: a
/// DSN travels with a null reverse-path).
/// </summary>
internal sealed record DsnReport(
    string File,
    MimeMessage Message,
    MultipartReport Report,
    HeaderList PerMessage,
    IReadOnlyList<HeaderList> PerRecipient,
    string ReturnedHeaders)
{
    public string? ReturnPath => Message.Headers[HeaderId.ReturnPath];

    /// <summary>The DSN's own queue id, from the Received header the router gave it ("with local id ID").</summary>
    public string QueueId => Regex.Match(Encoding.ASCII.GetString(System.IO.File.ReadAllBytes(File)), @"\(Router\) with local id ([0-9A-Za-z]+)").Groups[1].Value;

    /// <summary>The human-readable first part.</summary>
    public string Explanation => Report.OfType<TextPart>().First().Text;

    /// <summary>Every DSN in <paramref name="mailbox"/>'s new/ that mentions <paramref name="token"/> (in its returned content).</summary>
    public static IReadOnlyList<DsnReport> FindAll(RouterProcess router, string mailbox, string token)
    {
        var needle = Encoding.ASCII.GetBytes(token);
        return router.Mailbox(mailbox).NewFiles()
            .Select(f => (File: f, Bytes: System.IO.File.ReadAllBytes(f)))
            .Where(x => x.Bytes.AsSpan().IndexOf(needle) >= 0)
            .Select(x => Parse(x.File, x.Bytes))
            .OfType<DsnReport>()
            .ToArray();
    }

    /// <summary>The DSN in the file, or null when the file is not a multipart/report.</summary>
    public static DsnReport? Parse(string file, byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        var message = MimeMessage.Load(stream);
        if (message.Body is not MultipartReport report) return null;
        var status = report.OfType<MessageDeliveryStatus>().Single();
        var groups = status.StatusGroups;
        var returned = report.Skip(2).FirstOrDefault() switch
        {
            MessagePart { Message: { } returnedMessage } => string.Join("\n", returnedMessage.Headers.Select(h => h.ToString())),
            TextPart headers => headers.Text ?? "",
            _ => "",
        };
        return new DsnReport(file, message, report, groups[0], groups.Skip(1).ToArray(), returned);
    }
}
