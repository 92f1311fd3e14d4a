using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// On a single node, local mailboxes are written by <see cref="MaildirDelivery"/> straight from the
/// hand-off plan, with the mailbox actor's contract: one durable file in new/ per delivery before
/// the Durable answer, Failed (never silence) when the write cannot happen. With no direct delivery
/// (a cluster), the plan still tells the mailbox actors.
/// </summary>
public sealed class MaildirDeliveryTests : TestKit
{
    private static readonly byte[] Trace = Encoding.ASCII.GetBytes("Received: from client.test ([127.0.0.1])\r\n\tby mx.test (Router) with ESMTP id X; Tue, 01 Dec 2026 11:00:00 +0000\r\n");
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nhello\r\n");
    private static readonly MailCommand Mail = new(new MailAddress("sender", "remote.test"), null, BodyType.SevenBit, false, DsnReturn.None, null);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-direct-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly DurableFileWriter _writer;

    public MaildirDeliveryTests()
    {
        Directory.CreateDirectory(_root);
        _writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 64);
    }

    private string MaildirRoot => Path.Combine(_root, "maildir");

    private static Destination[] Alice => [new Destination.Mailbox("alice@example.test")];

    private static RcptCommand[] Rcpts => [new RcptCommand(new MailAddress("alice", "example.test"), DsnNotify.Never, null)];

    private HandoffPlan Plan(MaildirDelivery? direct) =>
        new MessageHandoff(TestActor, ActorRefs.Nobody, bodiesByReference: false, _ => TimeSpan.FromSeconds(10), direct)
            .Plan(7, "Q7", Mail, Alice, Rcpts, Trace, Body);

    [Fact]
    public void A_local_mailbox_is_written_directly_and_answered_durable()
    {
        var plan = Plan(new MaildirDelivery(MaildirRoot, "mx.test", _writer));
        Assert.Empty(plan.Messages);
        Assert.Equal(1, plan.Count);

        plan.Send(TestActor);

        var reply = ExpectMsg<OwnerReply.Durable>(TimeSpan.FromSeconds(10));
        Assert.Equal((7L, "alice@example.test"), (reply.TransactionId, reply.Owner));
        var file = Assert.Single(Directory.GetFiles(Path.Combine(MaildirRoot, "example.test", "alice", "new")));
        var expected = Encoding.ASCII.GetBytes("Return-Path: <sender@remote.test>\r\nDelivered-To: alice@example.test\r\n").Concat(Trace).Concat(Body).ToArray();
        Assert.Equal(expected, File.ReadAllBytes(file));
        Assert.EndsWith($",S={expected.Length}", Path.GetFileName(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asking_collects_the_direct_answers()
    {
        var plan = Plan(new MaildirDelivery(MaildirRoot, "mx.test", _writer));

        var replies = await plan.AskAsync();

        Assert.IsType<OwnerReply.Durable>(Assert.Single(replies));
        Assert.Single(Directory.GetFiles(Path.Combine(MaildirRoot, "example.test", "alice", "new")));
    }

    [Fact]
    public void An_unwritable_maildir_is_answered_failed()
    {
        // The Maildir root is a file: no folder can be made under it, whoever runs the test.
        var blocked = Path.Combine(_root, "not-a-folder");
        File.WriteAllText(blocked, "x");
        var plan = Plan(new MaildirDelivery(blocked, "mx.test", _writer));

        plan.Send(TestActor);

        var reply = ExpectMsg<OwnerReply.Failed>(TimeSpan.FromSeconds(10));
        Assert.Equal(7, reply.TransactionId);
        Assert.False(string.IsNullOrEmpty(reply.Reason));
    }

    [Fact]
    public void Without_direct_delivery_the_mailbox_actors_are_told()
    {
        var plan = Plan(direct: null);
        Assert.Empty(plan.Written);

        plan.Send(TestActor);

        var deliver = ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        Assert.Equal(("alice@example.test", 7L), (deliver.Mailbox, deliver.TransactionId));
        Assert.False(Directory.Exists(Path.Combine(MaildirRoot, "example.test")));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        _writer.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
