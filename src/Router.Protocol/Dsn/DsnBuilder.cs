using System.Text;
using System.Text.RegularExpressions;
using MimeKit;
using MimeKit.Utils;

namespace Router.Protocol.Dsn;

/// <summary>
/// Builds delivery status notifications (RFC 3464) as multipart/report (RFC 6522): a readable
/// text part, the machine-readable message/delivery-status, and the original headers (or, with
/// RET=FULL, the original message; success notices always return the headers only, as Postfix
/// returns no body with them). When any address or original header is UTF-8 the report uses
/// the RFC 6533 "global" types and must be sent with SMTPUTF8. Auto-Submitted per RFC 3834.
/// The caller sends the result with a null envelope sender, MAIL FROM:&lt;&gt;.
/// </summary>
public static partial class DsnBuilder
{
    public const string FailureSubject = "Undelivered Mail Returned to Sender";
    public const string DelaySubject = "Delayed Mail (still being retried)";
    public const string SuccessSubject = "Successful Mail Delivery Report";

    /// <summary>The diagnostic-type (RFC 3464 s2.3.6) of a cause this MTA found itself, with no server reply to quote.</summary>
    private const string DiagnosticType = "X-Router";

    private const int FoldWidth = 78;
    private const int MaxFieldLength = 2000;

    /// <summary>The DSN as a MIME message; serialize it with <see cref="ToBytes"/>.</summary>
    public static MimeMessage Build(DsnRequest request)
    {
        Validate(request);
        var host = Clean(request.ReportingMta, ascii: true);
        var global = RequiresSmtpUtf8(request);
        var headerBlock = HeaderSection.Of(request.OriginalMessage.Span);

        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@" + host));
        message.To.Add(new MailboxAddress("", Clean(request.Sender.ToString(), ascii: false)));
        message.Subject = request.Kind switch
        {
            DsnKind.Failure => FailureSubject,
            DsnKind.Delay => DelaySubject,
            _ => SuccessSubject,
        };
        message.Date = request.Date ?? DateTimeOffset.UtcNow;
        message.MessageId = request.MessageId is { } id ? Clean(id.Trim('<', '>'), ascii: true) : $"{Guid.NewGuid():N}@{host}";
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var report = new MultipartReport("delivery-status")
        {
            ReadableText(request, host),
            DeliveryStatus(request, host, global),
            ReturnedContent(request, headerBlock, global),
        };
        message.Body = report;
        return message;
    }

    /// <summary>The DSN as sent on the wire: CRLF line endings, UTF-8 headers left raw (RFC 6532) when present.</summary>
    public static byte[] ToBytes(MimeMessage dsn)
    {
        ArgumentNullException.ThrowIfNull(dsn);
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        options.International = true;
        using var stream = new MemoryStream();
        dsn.WriteTo(options, stream);
        return stream.ToArray();
    }

    /// <summary>True when the DSN carries UTF-8 addresses or headers: send it with SMTPUTF8 (RFC 6531).</summary>
    public static bool RequiresSmtpUtf8(DsnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Sender.IsUtf8
            || request.Recipients.Any(r => r.Address.IsUtf8 || !Ascii(r.OriginalRecipient))
            || !Ascii(HeaderSection.Of(request.OriginalMessage.Span));
    }

    /// <summary>True when the DSN has 8-bit content: send it with BODY=8BITMIME (RFC 6152).</summary>
    public static bool Requires8BitMime(DsnRequest request) =>
        RequiresSmtpUtf8(request) || (ReturnsFullMessage(request) && !Ascii(request.OriginalMessage.Span));

    private static void Validate(DsnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.ReportingMta)) throw new ArgumentException("ReportingMta is required", nameof(request));
        if (request.Recipients.Count == 0) throw new ArgumentException("a DSN reports on at least one recipient", nameof(request));
    }

    /// <summary>
    /// The Status field for <paramref name="kind"/> (RFC 3463 s3.1, RFC 3464 s2.3.4): the class must
    /// match the action, so a failure after the last of many 4.x.x replies (the message expired)
    /// reports 5.x.x with the same subject and detail, a success 2.x.x; a malformed code becomes
    /// x.0.0. A report with a slightly wrong code still beats no report.
    /// </summary>
    public static string StatusFor(DsnKind kind, string? status)
    {
        var cls = kind switch
        {
            DsnKind.Failure => '5',
            DsnKind.Delay => '4',
            _ => '2',
        };
        if (status is null || !StatusCode().IsMatch(status)) return cls + ".0.0";
        return status[0] == cls ? status : cls + status[1..];
    }

    private static TextPart ReadableText(DsnRequest request, string host)
    {
        var text = new StringBuilder();
        text.Append("This is the mail delivery system at ").Append(host).Append(".\r\n\r\n");
        text.Append(request.Kind switch
        {
            DsnKind.Failure =>
                "Your message could not be delivered to the recipients below. The error that\r\n" +
                "stopped each delivery is shown; no further attempts will be made.\r\n",
            DsnKind.Delay =>
                "Your message has not yet been delivered to the recipients below. The last\r\n" +
                "error is shown; delivery is still being retried, so you do not need to\r\n" +
                "send the message again.\r\n",
            DsnKind.Expanded =>
                "Your message was successfully delivered to the recipients below, which are\r\n" +
                "aliases: it was forwarded from there to further addresses. You will receive no\r\n" +
                "notice of success for those, but you may still receive notices of delivery\r\n" +
                "errors.\r\n",
            DsnKind.Relayed =>
                "Your message was successfully relayed to the recipients below, to a server\r\n" +
                "that does not offer delivery status notifications: you will receive no\r\n" +
                "notice of its final delivery, but you may still receive notices of\r\n" +
                "delivery errors from other systems.\r\n",
            _ =>
                "Your message was successfully delivered to the mailboxes of the recipients\r\n" +
                "below. You will receive no further notifications about them.\r\n",
        });
        text.Append(ReturnsFullMessage(request) ? "Your message is attached.\r\n\r\n" : "The headers of your message are attached.\r\n\r\n");

        foreach (var r in request.Recipients)
        {
            text.Append('<').Append(Clean(r.Address.ToString(), ascii: false)).Append(">: ");
            if (r.RemoteReply is { } reply)
            {
                // Why delivery stopped (e.g. the delivery time expired) comes before the server's last words.
                if (r.Reason is { } reason) text.Append(Clean(reason, ascii: false)).Append("; last reply: ");
                if (IsSuccess(request.Kind)) text.Append(request.Kind == DsnKind.Relayed ? "relayed to " : "delivered by ");
                text.Append(r.RemoteMta is { } mta ? "host " + Clean(mta, ascii: false) : "the remote server")
                    .Append(IsSuccess(request.Kind) ? ", which said: " : " said: ").Append(Clean(reply.ToString(), ascii: false));
            }
            else
            {
                text.Append(Clean(r.Reason ?? request.Kind switch
                {
                    DsnKind.Delivered => "delivered to mailbox",
                    DsnKind.Expanded => "alias expanded",
                    DsnKind.Relayed => "relayed",
                    _ => $"delivery failed with status {StatusFor(request.Kind, r.Status)}",
                }, ascii: false));
            }
            if (request.Kind == DsnKind.Delay && r.WillRetryUntil is { } until)
                text.Append(" (will be retried until ").Append(DateUtils.FormatDate(until)).Append(')');
            text.Append("\r\n");
        }

        var part = new TextPart("plain");
        part.SetText(Encoding.UTF8, text.ToString());
        part.ContentTransferEncoding = Ascii(text.ToString()) ? ContentEncoding.SevenBit : ContentEncoding.QuotedPrintable;
        part.ContentDescription = "Notification";
        return part;
    }

    /// <summary>RFC 3464 s2.2 per-message fields, then one s2.3 group per recipient.</summary>
    private static MessageDeliveryStatus DeliveryStatus(DsnRequest request, string host, bool global)
    {
        var ascii = !global;
        var sb = new StringBuilder();
        Field(sb, "Reporting-MTA", "dns; " + host);
        if (request.OriginalEnvelopeId is { } envid) Field(sb, "Original-Envelope-Id", Clean(XText.Decode(envid), ascii));
        Field(sb, "Arrival-Date", DateUtils.FormatDate(request.ArrivalDate));

        foreach (var r in request.Recipients)
        {
            sb.Append("\r\n");
            if (r.OriginalRecipient is { } orcpt) Field(sb, "Original-Recipient", Clean(AddressField(orcpt), ascii));
            // RFC 6533 s3: a UTF-8 address is of type "utf-8", written raw in message/global-delivery-status.
            Field(sb, "Final-Recipient", (r.Address.IsUtf8 ? "utf-8; " : "rfc822; ") + Clean(r.Address.ToString(), ascii));
            Field(sb, "Action", request.Kind switch
            {
                DsnKind.Failure => "failed",
                DsnKind.Delay => "delayed",
                DsnKind.Relayed => "relayed",
                DsnKind.Expanded => "expanded",
                _ => "delivered",
            });
            Field(sb, "Status", StatusFor(request.Kind, r.Status));
            if (r.RemoteMta is { } mta) Field(sb, "Remote-MTA", "dns; " + Clean(mta, ascii));
            // RFC 3464 s2.3.6: a server's reply is an smtp diagnostic; a cause of our own (no connection,
            // a refused greeting, a lost connection, DNS) gets a type of ours, as Postfix's "X-Postfix; ...".
            if (r.RemoteReply is { } reply) Field(sb, "Diagnostic-Code", "smtp; " + Clean(reply.ToString(), ascii));
            else if (r.Reason is { } reason) Field(sb, "Diagnostic-Code", DiagnosticType + "; " + Clean(reason, ascii));
            if (r.LastAttemptDate is { } last) Field(sb, "Last-Attempt-Date", DateUtils.FormatDate(last));
            if (request.Kind == DsnKind.Delay && r.WillRetryUntil is { } until) Field(sb, "Will-Retry-Until", DateUtils.FormatDate(until));
        }

        var part = new MessageDeliveryStatus
        {
            Content = new MimeContent(new MemoryStream(Encoding.UTF8.GetBytes(sb.ToString()))),
            ContentTransferEncoding = global ? ContentEncoding.EightBit : ContentEncoding.SevenBit,
        };
        if (global) part.ContentType.MediaSubtype = "global-delivery-status";
        return part;
    }

    /// <summary>The original headers (text/rfc822-headers), or with RET=FULL the whole message (message/rfc822).</summary>
    private static MimePart ReturnedContent(DsnRequest request, ReadOnlySpan<byte> headerBlock, bool global)
    {
        var full = ReturnsFullMessage(request);
        var bytes = full ? request.OriginalMessage.Span : headerBlock;
        var (type, subtype) = (full, global) switch
        {
            (true, true) => ("message", "global"),
            (true, false) => ("message", "rfc822"),
            (false, true) => ("message", "global-headers"),
            (false, false) => ("text", "rfc822-headers"),
        };
        return new MimePart(type, subtype)
        {
            Content = new MimeContent(new MemoryStream(bytes.ToArray())),
            // message/* parts may not be encoded (RFC 2046 s5.2.1): mark 8-bit content as such.
            ContentTransferEncoding = Ascii(bytes) ? ContentEncoding.SevenBit : ContentEncoding.EightBit,
            ContentDescription = IsSuccess(request.Kind) ? "Message Headers" : full ? "Undelivered Message" : "Undelivered Message Headers",
        };
    }

    /// <summary>RET=FULL within the size limit; never for a success notice (Postfix sends no content with one).</summary>
    private static bool ReturnsFullMessage(DsnRequest request) =>
        request.ReturnFullMessage && !IsSuccess(request.Kind) && request.OriginalMessage.Length <= request.MaxReturnedMessageSize;

    private static bool IsSuccess(DsnKind kind) => kind is DsnKind.Relayed or DsnKind.Delivered or DsnKind.Expanded;

    /// <summary>
    /// "type;xtext" as given in ORCPT becomes "type; address", decoded (a "utf-8" address, RFC 6533,
    /// is not xtext); a bare address is rfc822.
    /// </summary>
    private static string AddressField(string value)
    {
        var semi = value.IndexOf(';', StringComparison.Ordinal);
        if (semi < 0) return "rfc822; " + value;
        var type = value[..semi].Trim();
        var address = value[(semi + 1)..].Trim();
        return type + "; " + (type.Equals("utf-8", StringComparison.OrdinalIgnoreCase) ? address : XText.Decode(address));
    }

    /// <summary>
    /// Makes a value from the network safe for a header field: no CR, LF or other control
    /// character survives (they could end the field and inject new ones); non-ASCII becomes "?"
    /// where the field must be ASCII; overlong values are cut.
    /// </summary>
    private static string Clean(string value, bool ascii)
    {
        var sb = new StringBuilder(Math.Min(value.Length, MaxFieldLength));
        foreach (var c in value)
        {
            if (sb.Length == MaxFieldLength) break;
            sb.Append(char.IsControl(c) ? ' ' : ascii && c > 0x7e ? '?' : c);
        }
        return sb.ToString().Trim();
    }

    /// <summary>Writes "Name: value", folded at spaces so lines stay near 78 characters (RFC 5322 s2.2.3).</summary>
    private static void Field(StringBuilder sb, string name, string value)
    {
        var line = name.Length + 2;
        sb.Append(name).Append(": ");
        var words = value.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            if (i > 0)
            {
                if (line + 1 + words[i].Length > FoldWidth)
                {
                    sb.Append("\r\n");
                    line = 0;
                }
                sb.Append(' ');
                line++;
            }
            sb.Append(words[i]);
            line += words[i].Length;
        }
        sb.Append("\r\n");
    }

    private static bool Ascii(string? s) => s is null || s.All(c => c < 0x80);

    private static bool Ascii(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyInRange((byte)0x80, (byte)0xff);

    [GeneratedRegex(@"^[245]\.[0-9]{1,3}\.[0-9]{1,3}\z", RegexOptions.CultureInvariant)]
    private static partial Regex StatusCode();
}
