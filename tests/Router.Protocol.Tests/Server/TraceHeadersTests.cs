using System.Net;
using System.Text;

namespace Router.Protocol.Tests.Server;

/// <summary>TraceHeaders: the Received field of RFC 5321 s4.4 and loop counting (s6.3).</summary>
public sealed class TraceHeadersTests
{
    private static readonly DateTimeOffset When = new(2024, 3, 5, 14, 7, 9, TimeSpan.FromHours(1));

    private static string Received(IPAddress client, string? forRecipient = "rcpt@b.c") =>
        Encoding.UTF8.GetString(TraceHeaders.Received("client.example", client, "mx.example", "ESMTPS", "0ABC123", forRecipient, When));

    [Fact]
    public void Received_has_from_by_with_id_for_and_date()
    {
        Assert.Equal(
            "Received: from client.example ([192.0.2.7])\r\n" +
            "\tby mx.example (Router) with ESMTPS id 0ABC123\r\n" +
            "\tfor <rcpt@b.c>; Tue, 05 Mar 2024 14:07:09 +0100\r\n",
            Received(IPAddress.Parse("192.0.2.7")));
    }

    [Fact]
    public void Received_without_recipient_omits_the_for_clause()
    {
        Assert.Equal(
            "Received: from client.example ([192.0.2.7])\r\n" +
            "\tby mx.example (Router) with ESMTPS id 0ABC123; Tue, 05 Mar 2024 14:07:09 +0100\r\n",
            Received(IPAddress.Parse("192.0.2.7"), forRecipient: null));
    }

    [Theory]
    [InlineData("bücher.example", "xn--bcher-kva.example")]
    [InlineData("bad_ü..name", "bad_?..name")]
    public void A_UTF8_EHLO_name_is_written_in_ASCII(string helo, string written)
    {
        // The header may travel in a message without SMTPUTF8, where raw UTF-8 is not allowed (RFC 6532).
        var received = Encoding.UTF8.GetString(TraceHeaders.Received(helo, IPAddress.Parse("192.0.2.7"), "mx.example", "ESMTP", "0ABC123", null, When));

        Assert.StartsWith($"Received: from {written} ([192.0.2.7])\r\n", received, StringComparison.Ordinal);
        Assert.True(Ascii.IsValid(received));
    }

    [Fact]
    public void Received_marks_IPv6_clients_as_IPv6_literals()
    {
        Assert.StartsWith("Received: from client.example ([IPv6:2001:db8::1])\r\n", Received(IPAddress.Parse("2001:db8::1")), StringComparison.Ordinal);
    }

    [Fact]
    public void Received_shows_IPv4_mapped_clients_as_IPv4()
    {
        Assert.StartsWith("Received: from client.example ([192.0.2.7])\r\n", Received(IPAddress.Parse("::ffff:192.0.2.7")), StringComparison.Ordinal);
    }

    [Fact]
    public void Received_lines_are_folded_with_CRLF_and_tab_only()
    {
        var lines = Received(IPAddress.Loopback).Split("\r\n");
        Assert.Equal("", lines[^1]);
        Assert.All(lines[1..^1], l => Assert.StartsWith("\t", l, StringComparison.Ordinal));
        Assert.DoesNotContain('\n', string.Concat(lines));
    }

    [Fact]
    public void Received_is_counted_by_CountReceived()
    {
        var message = Received(IPAddress.Loopback) + "Subject: x\r\n\r\nbody\r\n";
        Assert.Equal(1, TraceHeaders.CountReceived(Encoding.UTF8.GetBytes(message)));
    }

    [Fact]
    public void Date_uses_the_given_offset_without_a_colon()
    {
        Assert.Equal("Sun, 01 Dec 2024 23:59:59 -0530", TraceHeaders.Rfc5322Date(new DateTimeOffset(2024, 12, 1, 23, 59, 59, TimeSpan.FromMinutes(-330))));
    }

    [Theory]
    [InlineData(false, false, false, false, "SMTP")]
    [InlineData(true, false, false, false, "ESMTP")]
    [InlineData(true, true, false, false, "ESMTPS")]
    [InlineData(true, false, true, false, "ESMTPA")]
    [InlineData(true, true, true, false, "ESMTPSA")]
    [InlineData(true, false, false, true, "UTF8SMTP")]
    [InlineData(true, true, false, true, "UTF8SMTPS")]
    [InlineData(true, true, true, true, "UTF8SMTPSA")]
    public void Protocol_names_follow_RFC_3848_and_RFC_6531(bool esmtp, bool tls, bool authenticated, bool utf8, string expected)
    {
        Assert.Equal(expected, TraceHeaders.Protocol(esmtp, tls, authenticated, utf8));
    }

    [Fact]
    public void Delivery_headers_carry_return_path_and_delivered_to()
    {
        Assert.Equal("Return-Path: <a@b.c>\r\nDelivered-To: x@y.z\r\n", Encoding.UTF8.GetString(TraceHeaders.DeliveryHeaders("a@b.c", "x@y.z")));
    }

    [Fact]
    public void Null_sender_gives_an_empty_return_path()
    {
        Assert.StartsWith("Return-Path: <>\r\n", Encoding.UTF8.GetString(TraceHeaders.DeliveryHeaders(null, "x@y.z")), StringComparison.Ordinal);
    }

    [Fact]
    public void CountReceived_counts_every_Received_field_in_any_case()
    {
        var message = "Received: a\r\nRECEIVED: b\r\n\tcontinued\r\nreceived:c\r\nSubject: x\r\n\r\n"u8;
        Assert.Equal(3, TraceHeaders.CountReceived(message));
    }

    [Fact]
    public void CountReceived_counts_the_obsolete_form_with_whitespace_before_the_colon_but_not_other_names()
    {
        // RFC 5322 s4.5: "Received :" is still a Received field; a hop that writes it must not escape the loop limit.
        var message = "Received : a\r\nReceived\t: b\r\nReceived-SPF: pass\r\nReceivedX: c\r\n\r\n"u8;
        Assert.Equal(2, TraceHeaders.CountReceived(message));
    }

    [Fact]
    public void CountReceived_stops_at_the_end_of_the_headers()
    {
        var message = "Received: a\r\nSubject: x\r\n\r\nReceived: quoted in the body\r\nReceived: again\r\n"u8;
        Assert.Equal(1, TraceHeaders.CountReceived(message));
    }

    [Fact]
    public void CountReceived_stops_at_an_empty_line_ending_in_bare_LF()
    {
        Assert.Equal(1, TraceHeaders.CountReceived("Received: a\n\nReceived: b\n"u8));
    }

    [Fact]
    public void CountReceived_ignores_continuation_lines_and_other_fields()
    {
        var message = "X-Received: a\r\nSubject: Received: b\r\n Received: c\r\n\r\n"u8;
        Assert.Equal(0, TraceHeaders.CountReceived(message));
    }

    [Fact]
    public void CountReceived_on_headers_without_body_counts_to_the_end()
    {
        Assert.Equal(2, TraceHeaders.CountReceived("Received: a\r\nReceived: b"u8));
    }

    [Fact]
    public void CountReceived_of_empty_message_is_zero()
    {
        Assert.Equal(0, TraceHeaders.CountReceived([]));
    }
}
