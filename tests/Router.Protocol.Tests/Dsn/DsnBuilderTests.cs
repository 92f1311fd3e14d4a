using System.Text;
using MimeKit;
using MimeKit.Utils;
using Router.Protocol.Dsn;

namespace Router.Protocol.Tests.Dsn;

/// <summary>RFC 3464 DSNs, checked by re-parsing the bytes as a mail client would (MimeKit).</summary>
public sealed class DsnBuilderTests
{
    private static readonly DateTimeOffset Arrival = new(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LastAttempt = new(2025, 3, 1, 10, 5, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 10, 6, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset RetryUntil = new(2025, 3, 6, 10, 0, 0, TimeSpan.Zero);

    private static readonly byte[] Original = Encoding.ASCII.GetBytes(
        "From: Alice <alice@example.org>\r\n" +
        "To: bob@remote.example\r\n" +
        "Subject: Quarterly numbers\r\n" +
        "Message-ID: <orig-1@example.org>\r\n" +
        "Date: Sat, 01 Mar 2025 09:59:00 +0000\r\n" +
        "\r\n" +
        "SECRET-BODY-LINE\r\n");

    private static DsnRecipient Bob => new(new MailAddress("bob", "remote.example"), "5.1.1")
    {
        RemoteMta = "mx.remote.example",
        RemoteReply = new SmtpReply(550, "5.1.1", "<bob@remote.example>: User unknown"),
        LastAttemptDate = LastAttempt,
    };

    private static DsnRequest Bounce(params DsnRecipient[] recipients) => new(
        DsnKind.Failure, "mx.router.test", new MailAddress("alice", "example.org"),
        recipients.Length == 0 ? [Bob] : recipients, Original, Arrival)
    {
        OriginalEnvelopeId = "ENV-42",
        Date = Now,
        MessageId = "dsn-1@mx.router.test",
    };

    private static DsnRequest Delay() => new(
        DsnKind.Delay, "mx.router.test", new MailAddress("alice", "example.org"),
        [
            new DsnRecipient(new MailAddress("carol", "slow.example"), "4.4.1")
            {
                RemoteMta = "mx.slow.example",
                RemoteReply = new SmtpReply(421, "4.4.1", "Try again later"),
                LastAttemptDate = LastAttempt,
                WillRetryUntil = RetryUntil,
            },
        ],
        Original, Arrival)
    { Date = Now };

    private static DsnRequest Success(DsnKind kind) => new(
        kind, "mx.router.test", new MailAddress("alice", "example.org"),
        [
            kind == DsnKind.Relayed
                ? new DsnRecipient(new MailAddress("dave", "old.example"), "2.0.0")
                {
                    OriginalRecipient = "rfc822;dave@alias.example",
                    RemoteMta = "mx.old.example",
                    RemoteReply = new SmtpReply(250, "2.0.0", "Ok: queued as 4XyZ"),
                    LastAttemptDate = LastAttempt,
                }
                : new DsnRecipient(new MailAddress("erin", "router.test"), "2.0.0"),
        ],
        Original, Arrival)
    {
        OriginalEnvelopeId = "ENV-43",
        // A success notice returns the headers only, whatever RET asked for (as Postfix).
        ReturnFullMessage = true,
        Date = Now,
    };

    /// <summary>Build, serialize and parse back: every check reads what a receiver would read.</summary>
    private static (MimeMessage Message, byte[] Bytes) RoundTrip(DsnRequest request)
    {
        var bytes = DsnBuilder.ToBytes(DsnBuilder.Build(request));
        return (MimeMessage.Load(new MemoryStream(bytes)), bytes);
    }

    private static MultipartReport Report(MimeMessage m) => Assert.IsType<MultipartReport>(m.Body);

    private static HeaderListCollection Groups(MimeMessage m) =>
        Assert.IsType<MessageDeliveryStatus>(Report(m)[1]).StatusGroups;

    [Fact]
    public void A_bounce_is_a_multipart_report_of_three_parts()
    {
        var (dsn, _) = RoundTrip(Bounce());

        var report = Report(dsn);
        Assert.Equal("delivery-status", report.ReportType);
        Assert.Equal("multipart/report", report.ContentType.MimeType);
        Assert.Equal(3, report.Count);
        Assert.Equal("text/plain", report[0].ContentType.MimeType);
        Assert.Equal("message/delivery-status", report[1].ContentType.MimeType);
        Assert.Equal("text/rfc822-headers", report[2].ContentType.MimeType);
    }

    [Fact]
    public void A_bounce_comes_from_the_mailer_daemon_to_the_original_sender()
    {
        var (dsn, _) = RoundTrip(Bounce());

        var from = Assert.IsType<MailboxAddress>(Assert.Single(dsn.From));
        Assert.Equal(("Mail Delivery System", "MAILER-DAEMON@mx.router.test"), (from.Name, from.Address));
        Assert.Equal("alice@example.org", Assert.IsType<MailboxAddress>(Assert.Single(dsn.To)).Address);
        Assert.Equal("Undelivered Mail Returned to Sender", dsn.Subject);
        Assert.Equal(Now, dsn.Date);
        Assert.Equal("dsn-1@mx.router.test", dsn.MessageId);
        Assert.Equal("auto-replied", dsn.Headers["Auto-Submitted"]);
        Assert.Equal("1.0", dsn.Headers[HeaderId.MimeVersion]);
    }

    [Fact]
    public void A_bounce_has_the_per_message_fields()
    {
        var (dsn, _) = RoundTrip(Bounce());

        var message = Groups(dsn)[0];
        Assert.Equal("dns; mx.router.test", message["Reporting-MTA"]);
        Assert.Equal("ENV-42", message["Original-Envelope-Id"]);
        Assert.True(DateUtils.TryParse(message["Arrival-Date"], out var arrival));
        Assert.Equal(Arrival, arrival);
    }

    [Fact]
    public void A_bounce_has_the_per_recipient_fields()
    {
        var (dsn, _) = RoundTrip(Bounce());

        var groups = Groups(dsn);
        Assert.Equal(2, groups.Count);
        var bob = groups[1];
        Assert.Equal("rfc822; bob@remote.example", bob["Final-Recipient"]);
        Assert.Equal("failed", bob["Action"]);
        Assert.Equal("5.1.1", bob["Status"]);
        Assert.Equal("dns; mx.remote.example", bob["Remote-MTA"]);
        Assert.Equal("smtp; 550 5.1.1 <bob@remote.example>: User unknown", bob["Diagnostic-Code"]);
        Assert.True(DateUtils.TryParse(bob["Last-Attempt-Date"], out var last));
        Assert.Equal(LastAttempt, last);
        Assert.Null(bob["Will-Retry-Until"]);
        Assert.Null(bob["Original-Recipient"]);
    }

    [Fact]
    public void The_readable_part_names_each_recipient_and_its_last_error()
    {
        var (dsn, _) = RoundTrip(Bounce());

        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("mx.router.test", text);
        Assert.Contains("<bob@remote.example>: host mx.remote.example said: 550 5.1.1 <bob@remote.example>: User unknown", text);
    }

    [Fact]
    public void The_original_headers_are_returned_without_the_body()
    {
        var (dsn, bytes) = RoundTrip(Bounce());

        var headers = Assert.IsType<TextRfc822Headers>(Report(dsn)[2]).Message!;
        Assert.Equal("Quarterly numbers", headers.Subject);
        Assert.Equal("orig-1@example.org", headers.MessageId);
        Assert.Equal("alice@example.org", headers.From.Mailboxes.Single().Address);
        Assert.DoesNotContain("SECRET-BODY-LINE", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Ret_full_returns_the_whole_message()
    {
        var (dsn, _) = RoundTrip(Bounce() with { ReturnFullMessage = true });

        var part = Assert.IsType<MessagePart>(Report(dsn)[2]);
        Assert.Equal("message/rfc822", part.ContentType.MimeType);
        var original = Assert.IsType<MimeMessage>(part.Message);
        Assert.Equal("Quarterly numbers", original.Subject);
        Assert.Contains("SECRET-BODY-LINE", Assert.IsType<TextPart>(original.Body).Text);
    }

    [Fact]
    public void Ret_full_falls_back_to_headers_for_a_message_over_the_limit()
    {
        var (dsn, bytes) = RoundTrip(Bounce() with { ReturnFullMessage = true, MaxReturnedMessageSize = 50 });

        Assert.IsType<TextRfc822Headers>(Report(dsn)[2]);
        Assert.DoesNotContain("SECRET-BODY-LINE", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Every_line_ends_in_crlf()
    {
        var (_, bytes) = RoundTrip(Bounce());

        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n') Assert.True(i > 0 && bytes[i - 1] == '\r', $"bare LF at byte {i}");
            if (bytes[i] == '\r') Assert.True(i + 1 < bytes.Length && bytes[i + 1] == '\n', $"bare CR at byte {i}");
        }
    }

    [Fact]
    public void A_delay_says_delayed_and_until_when_it_retries()
    {
        var (dsn, _) = RoundTrip(Delay());

        Assert.Equal("Delayed Mail (still being retried)", dsn.Subject);
        var carol = Groups(dsn)[1];
        Assert.Equal("rfc822; carol@slow.example", carol["Final-Recipient"]);
        Assert.Equal("delayed", carol["Action"]);
        Assert.Equal("4.4.1", carol["Status"]);
        Assert.Equal("dns; mx.slow.example", carol["Remote-MTA"]);
        Assert.Equal("smtp; 421 4.4.1 Try again later", carol["Diagnostic-Code"]);
        Assert.True(DateUtils.TryParse(carol["Will-Retry-Until"], out var until));
        Assert.Equal(RetryUntil, until);
        Assert.Null(Groups(dsn)[0]["Original-Envelope-Id"]);
        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("still being retried", text);
        Assert.Contains("421 4.4.1 Try again later", text);
    }

    [Fact]
    public void Expired_recipient_says_why_delivery_stopped_before_the_last_reply()
    {
        var expired = Bob with
        {
            Status = "5.4.7",
            RemoteMta = "mx1.slow.example",
            RemoteReply = new SmtpReply(421, "4.3.2", "shutting down"),
            Reason = "Delivery time expired after 5 days",
        };

        var (dsn, _) = RoundTrip(Bounce(expired));

        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("<bob@remote.example>: Delivery time expired after 5 days; last reply: host mx1.slow.example said: 421 4.3.2 shutting down", text);
        Assert.Equal("smtp; 421 4.3.2 shutting down", Groups(dsn)[1]["Diagnostic-Code"]);
        Assert.Equal("5.4.7", Groups(dsn)[1]["Status"]);
    }

    [Fact]
    public void Each_recipient_gets_its_own_group()
    {
        var dave = new DsnRecipient(new MailAddress("dave", "gone.example"), "5.1.2")
        {
            Reason = "Host or domain name not found",
            OriginalRecipient = "rfc822;Dave@Gone.Example",
        };
        var erin = Bob with { Address = new MailAddress("erin", "remote.example"), Status = "5.2.2", RemoteReply = new SmtpReply(552, "5.2.2", "Mailbox full") };

        var (dsn, _) = RoundTrip(Bounce(Bob, dave, erin));

        var groups = Groups(dsn);
        Assert.Equal(4, groups.Count);
        Assert.Equal(["rfc822; bob@remote.example", "rfc822; dave@gone.example", "rfc822; erin@remote.example"], groups.Skip(1).Select(g => g["Final-Recipient"]));
        Assert.Equal(["5.1.1", "5.1.2", "5.2.2"], groups.Skip(1).Select(g => g["Status"]));
        Assert.All(groups.Skip(1), g => Assert.Equal("failed", g["Action"]));
        Assert.Equal("rfc822; Dave@Gone.Example", groups[2]["Original-Recipient"]);
        Assert.Null(groups[2]["Remote-MTA"]);
        Assert.Equal("X-Router; Host or domain name not found", groups[2]["Diagnostic-Code"]);
        Assert.Equal("smtp; 552 5.2.2 Mailbox full", groups[3]["Diagnostic-Code"]);
        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("<dave@gone.example>: Host or domain name not found", text);
        Assert.Contains("<erin@remote.example>: host mx.remote.example said: 552 5.2.2 Mailbox full", text);
    }

    [Fact]
    public void A_utf8_recipient_makes_a_global_dsn()
    {
        var jorg = Bob with { Address = new MailAddress("jörg", "bücher.example") };
        var request = Bounce(jorg);

        var (dsn, bytes) = RoundTrip(request);

        Assert.True(DsnBuilder.RequiresSmtpUtf8(request));
        Assert.True(DsnBuilder.Requires8BitMime(request));
        Assert.Equal("message/global-delivery-status", Report(dsn)[1].ContentType.MimeType);
        Assert.Equal("message/global-headers", Report(dsn)[2].ContentType.MimeType);
        Assert.Equal("utf-8; jörg@bücher.example", Groups(dsn)[1]["Final-Recipient"]);
        Assert.Contains("<jörg@bücher.example>", Assert.IsType<TextPart>(Report(dsn)[0]).Text);
        Assert.True(bytes.AsSpan().IndexOf("Final-Recipient: utf-8; jörg@bücher.example\r\n"u8) >= 0, "the address is raw UTF-8 on the wire");
    }

    [Fact]
    public void An_ascii_dsn_needs_neither_smtputf8_nor_8bitmime()
    {
        Assert.False(DsnBuilder.RequiresSmtpUtf8(Bounce()));
        Assert.False(DsnBuilder.Requires8BitMime(Bounce()));
    }

    [Fact]
    public void Line_breaks_from_the_network_cannot_inject_fields()
    {
        var evil = Bob with
        {
            RemoteMta = "mx.remote.example\r\nX-Injected: mta",
            RemoteReply = new SmtpReply(550, "5.7.1", "denied\r\nX-Injected: reply\r\n\r\nFinal-Recipient: rfc822; someone@else.example"),
        };

        var (dsn, bytes) = RoundTrip(Bounce(evil) with { OriginalEnvelopeId = "ENV\r\nX-Injected: envid" });

        var groups = Groups(dsn);
        Assert.Equal(2, groups.Count);
        Assert.All(groups, g => Assert.Null(g["X-Injected"]));
        Assert.Equal("dns; mx.remote.example  X-Injected: mta", groups[1]["Remote-MTA"]);
        Assert.StartsWith("smtp; 550 5.7.1 denied  X-Injected: reply", groups[1]["Diagnostic-Code"]);
        Assert.Null(dsn.Headers["X-Injected"]);
        Assert.DoesNotContain("\r\nX-Injected", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void A_long_diagnostic_is_folded_and_reads_back_whole()
    {
        var words = string.Join(' ', Enumerable.Range(1, 60).Select(i => $"word{i}"));
        var (dsn, bytes) = RoundTrip(Bounce(Bob with { RemoteReply = new SmtpReply(550, "5.7.1", words) }));

        Assert.Equal("smtp; 550 5.7.1 " + words, Groups(dsn)[1]["Diagnostic-Code"]);
        Assert.All(Encoding.UTF8.GetString(bytes).Split("\r\n"), line => Assert.True(line.Length <= 998));
    }

    [Fact]
    public void A_cause_found_without_a_server_reply_is_an_X_Router_diagnostic_without_Remote_MTA()
    {
        // RFC 3464 s2.3.6 allows a diagnostic-type other than smtp; Postfix writes "X-Postfix; ...".
        var refused = new DsnRecipient(new MailAddress("carol", "slow.example"), "4.4.1")
        {
            Reason = "mx.slow.example [192.0.2.7]: connect to 192.0.2.7:25: Connection refused",
            LastAttemptDate = LastAttempt,
            WillRetryUntil = RetryUntil,
        };

        var (dsn, _) = RoundTrip(Delay() with { Recipients = [refused] });

        var carol = Groups(dsn)[1];
        Assert.Equal("X-Router; mx.slow.example [192.0.2.7]: connect to 192.0.2.7:25: Connection refused", carol["Diagnostic-Code"]);
        Assert.Null(carol["Remote-MTA"]);
        Assert.Equal("4.4.1", carol["Status"]);
        Assert.Contains("<carol@slow.example>: mx.slow.example [192.0.2.7]: connect to 192.0.2.7:25: Connection refused", Assert.IsType<TextPart>(Report(dsn)[0]).Text);
    }

    [Fact]
    public void A_long_X_Router_diagnostic_is_folded_and_kept_7bit()
    {
        var words = string.Join(' ', Enumerable.Range(1, 60).Select(i => $"wörd{i}"));
        var dave = new DsnRecipient(new MailAddress("dave", "gone.example"), "5.4.4") { Reason = "line one\r\nX-Injected: no " + words };

        var (dsn, bytes) = RoundTrip(Bounce(dave));

        Assert.Equal("X-Router; line one  X-Injected: no " + words.Replace('ö', '?'), Groups(dsn)[1]["Diagnostic-Code"]);
        Assert.Null(Groups(dsn)[1]["X-Injected"]);
        var status = Encoding.ASCII.GetString(bytes);
        Assert.DoesNotContain(bytes, b => b > 0x7F);
        Assert.All(status[status.IndexOf("Diagnostic-Code:", StringComparison.Ordinal)..].Split("\r\n").TakeWhile(l => l.Length > 0), line => Assert.True(line.Length <= 78, line));
    }

    [Fact]
    public void A_relayed_notice_names_the_next_hop_and_its_reply()
    {
        var (dsn, bytes) = RoundTrip(Success(DsnKind.Relayed));

        Assert.Equal("Successful Mail Delivery Report", dsn.Subject);
        Assert.Equal("ENV-43", Groups(dsn)[0]["Original-Envelope-Id"]);
        var dave = Groups(dsn)[1];
        Assert.Equal("rfc822; dave@alias.example", dave["Original-Recipient"]);
        Assert.Equal("rfc822; dave@old.example", dave["Final-Recipient"]);
        Assert.Equal("relayed", dave["Action"]);
        Assert.Equal("2.0.0", dave["Status"]);
        Assert.Equal("dns; mx.old.example", dave["Remote-MTA"]);
        Assert.Equal("smtp; 250 2.0.0 Ok: queued as 4XyZ", dave["Diagnostic-Code"]);
        Assert.Null(dave["Will-Retry-Until"]);
        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("successfully relayed", text);
        Assert.Contains("<dave@old.example>: relayed to host mx.old.example, which said: 250 2.0.0 Ok: queued as 4XyZ", text);
        Assert.Equal("Quarterly numbers", Assert.IsType<TextRfc822Headers>(Report(dsn)[2]).Message!.Subject);
        Assert.DoesNotContain("SECRET-BODY-LINE", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void An_expanded_notice_names_the_alias()
    {
        var (dsn, _) = RoundTrip(Success(DsnKind.Expanded));

        Assert.Equal("Successful Mail Delivery Report", dsn.Subject);
        var erin = Groups(dsn)[1];
        Assert.Equal("rfc822; erin@router.test", erin["Final-Recipient"]);
        Assert.Equal("expanded", erin["Action"]);
        Assert.Equal("2.0.0", erin["Status"]);
        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("forwarded from there to further addresses", text);
        Assert.Contains("<erin@router.test>: alias expanded", text);
    }

    [Fact]
    public void ENVID_and_ORCPT_are_written_decoded_from_xtext()
    {
        var request = Success(DsnKind.Delivered) with
        {
            OriginalEnvelopeId = "ENV+2B43+3D",
            Recipients = [new DsnRecipient(new MailAddress("erin", "router.test"), "2.0.0") { OriginalRecipient = "rfc822;erin+2Bnews@router.test" }],
        };

        var (dsn, _) = RoundTrip(request);

        Assert.Equal("ENV+43=", Groups(dsn)[0]["Original-Envelope-Id"]);
        Assert.Equal("rfc822; erin+news@router.test", Groups(dsn)[1]["Original-Recipient"]);
    }

    [Fact]
    public void A_delivered_notice_says_delivered_to_mailbox_and_returns_headers_only()
    {
        var (dsn, bytes) = RoundTrip(Success(DsnKind.Delivered));

        Assert.Equal("Successful Mail Delivery Report", dsn.Subject);
        var erin = Groups(dsn)[1];
        Assert.Equal("rfc822; erin@router.test", erin["Final-Recipient"]);
        Assert.Equal("delivered", erin["Action"]);
        Assert.Equal("2.0.0", erin["Status"]);
        Assert.Null(erin["Remote-MTA"]);
        Assert.Null(erin["Diagnostic-Code"]);
        var text = Assert.IsType<TextPart>(Report(dsn)[0]).Text;
        Assert.Contains("successfully delivered", text);
        Assert.Contains("<erin@router.test>: delivered to mailbox", text);
        Assert.Contains("headers of your message are attached", text);
        Assert.Equal("text/rfc822-headers", Report(dsn)[2].ContentType.MimeType);
        Assert.DoesNotContain("SECRET-BODY-LINE", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void A_bounce_after_temporary_errors_reports_a_permanent_status()
    {
        // The message expired after 4.4.1 replies: Action failed needs class 5, same subject and detail.
        var (dsn, _) = RoundTrip(Bounce(Bob with { Status = "4.4.1", RemoteReply = new SmtpReply(421, "4.4.1", "busy") }));

        Assert.Equal("5.4.1", Groups(dsn)[1]["Status"]);
        Assert.Equal("smtp; 421 4.4.1 busy", Groups(dsn)[1]["Diagnostic-Code"]);
    }

    [Theory]
    [InlineData(DsnKind.Failure, "5.1.1", "5.1.1")]
    [InlineData(DsnKind.Failure, "4.4.7", "5.4.7")]
    [InlineData(DsnKind.Delay, "5.2.2", "4.2.2")]
    [InlineData(DsnKind.Relayed, "2.6.0", "2.6.0")]
    [InlineData(DsnKind.Delivered, null, "2.0.0")]
    [InlineData(DsnKind.Relayed, "5.1.1", "2.1.1")]
    [InlineData(DsnKind.Failure, "5.1", "5.0.0")]
    [InlineData(DsnKind.Delay, null, "4.0.0")]
    [InlineData(DsnKind.Failure, "5.1.1\r\nX: y", "5.0.0")]
    [InlineData(DsnKind.Failure, "5.1.1\n", "5.0.0")]
    public void The_status_class_follows_the_kind(DsnKind kind, string? given, string expected)
    {
        Assert.Equal(expected, DsnBuilder.StatusFor(kind, given));
    }

    [Fact]
    public void A_dsn_without_recipients_is_a_bug()
    {
        Assert.Throws<ArgumentException>(() => DsnBuilder.Build(Bounce() with { Recipients = [] }));
    }
}
