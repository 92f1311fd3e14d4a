using Router.Actors.Delivery;
using Router.Actors.Routing;
using Router.Protocol;
using Router.Protocol.Dsn;

namespace Router.Actors.Tests.Delivery;

/// <summary>
/// Who is owed a success notice at the 250 (RFC 3461 NOTIFY=SUCCESS): "delivered" for one local
/// mailbox, "expanded" for an alias with several destinations; never one with NOTIFY=NEVER or
/// without SUCCESS, never a null sender, and not a single remote address (the relay's).
/// </summary>
public sealed class DeliveredNoticesTests
{
    private static readonly MailCommand FromAlice = new(new MailAddress("alice", "example.test"), null, BodyType.SevenBit, false, DsnReturn.None, null);
    private static readonly MailCommand FromNobody = FromAlice with { ReversePath = null };
    private static readonly Destination Bob = new Destination.Mailbox("bob@example.test");
    private static readonly Destination Carol = new Destination.Mailbox("carol@example.test");
    private static readonly Destination Remote = new Destination.Remote("dave@remote.test", "remote.test");

    private static RcptCommand Rcpt(DsnNotify notify) => new(new MailAddress("bob", "example.test"), notify, null);

    [Fact]
    public void NOTIFY_SUCCESS_to_one_local_mailbox_is_owed_a_delivered_notice_and_to_an_alias_of_several_an_expanded_one()
    {
        Assert.Equal(DsnKind.Delivered, DeliveredNotices.Owed(FromAlice, Rcpt(DsnNotify.Success), [Bob]));
        Assert.Equal(DsnKind.Expanded, DeliveredNotices.Owed(FromAlice, Rcpt(DsnNotify.Success | DsnNotify.Failure), [Bob, Carol]));
        Assert.Equal(DsnKind.Expanded, DeliveredNotices.Owed(FromAlice, Rcpt(DsnNotify.Success), [Bob, Remote]));
    }

    [Theory]
    [InlineData(DsnNotify.None)]
    [InlineData(DsnNotify.Never)]
    [InlineData(DsnNotify.Failure | DsnNotify.Delay)]
    public void No_notice_without_NOTIFY_SUCCESS(DsnNotify notify)
    {
        Assert.Null(DeliveredNotices.Owed(FromAlice, Rcpt(notify), [Bob]));
        Assert.Null(DeliveredNotices.Owed(FromAlice, Rcpt(notify), [Bob, Carol]));
    }

    [Fact]
    public void No_notice_for_a_null_sender()
    {
        Assert.Null(DeliveredNotices.Owed(FromNobody, Rcpt(DsnNotify.Success), [Bob]));
        Assert.Null(DeliveredNotices.Owed(FromNobody, Rcpt(DsnNotify.Success), [Bob, Carol]));
    }

    [Fact]
    public void A_recipient_that_is_one_remote_address_is_left_to_the_relay()
    {
        Assert.Null(DeliveredNotices.Owed(FromAlice, Rcpt(DsnNotify.Success), [Remote]));
    }

    [Fact]
    public void The_notice_returns_the_trace_and_the_headers_without_the_body()
    {
        var pending = DeliveredNotices.Prepare("Q1", FromAlice, [(DsnKind.Delivered, Rcpt(DsnNotify.Success))], "Received: by test\r\n"u8, "Subject: hi\r\n\r\nSECRET\r\n"u8);

        Assert.NotNull(pending);
        Assert.Equal("Received: by test\r\nSubject: hi\r\n", System.Text.Encoding.ASCII.GetString(pending.OriginalHeaders));
        Assert.Null(DeliveredNotices.Prepare("Q1", FromAlice, [], "Received: by test\r\n"u8, "Subject: hi\r\n\r\n"u8));
        Assert.Null(DeliveredNotices.Prepare("Q1", FromNobody, [(DsnKind.Delivered, Rcpt(DsnNotify.Success))], "Received: by test\r\n"u8, "Subject: hi\r\n\r\n"u8));
    }
}
