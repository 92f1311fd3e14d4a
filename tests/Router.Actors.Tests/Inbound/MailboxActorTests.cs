using System.Text;
using Akka.TestKit.Xunit2;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// The mailbox actor acknowledges a message only once its Maildir file is durable and in new/, gives
/// every delivery its own file, and answers Failed (never silence) when the write cannot happen.
/// </summary>
public sealed class MailboxActorTests : TestKit
{
    private static readonly byte[] Trace = Encoding.ASCII.GetBytes("Received: from client.test ([127.0.0.1])\r\n\tby mx.test (Router) with ESMTP id X; Sun, 29 Nov 2026 15:00:00 +0000\r\n");
    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-mailbox-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly DurableFileWriter _writer;

    public MailboxActorTests()
    {
        Directory.CreateDirectory(_root);
        _writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 64);
    }

    private string MaildirRoot => Path.Combine(_root, "maildir");

    private string NewFolder => Path.Combine(MaildirRoot, "example.test", "alice", "new");

    [Fact]
    public void Delivery_writes_a_file_into_new_and_replies_durable()
    {
        var mailbox = Sys.ActorOf(MailboxActor.Props("alice@example.test", MaildirRoot, "mx.test", _writer));
        var body = Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nhello\r\n");

        mailbox.Tell(new MailboxActor.Deliver("alice@example.test", 7, "sender@remote.test", Trace, body), TestActor);

        var reply = ExpectMsg<OwnerReply.Durable>(TimeSpan.FromSeconds(10));
        Assert.Equal(7, reply.TransactionId);
        Assert.Equal("alice@example.test", reply.Owner);
        var file = Assert.Single(Directory.GetFiles(NewFolder));
        var expected = Encoding.ASCII.GetBytes("Return-Path: <sender@remote.test>\r\nDelivered-To: alice@example.test\r\n").Concat(Trace).Concat(body).ToArray();
        Assert.Equal(expected, File.ReadAllBytes(file));
        Assert.EndsWith($",S={expected.Length}", Path.GetFileName(file), StringComparison.Ordinal);
        // Its tmp/ name goes once the link into new/ is durable (the writer's next flush).
        AwaitCondition(() => Directory.GetFiles(Path.Combine(MaildirRoot, "example.test", "alice", "tmp")).Length == 0, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Two_deliveries_produce_two_distinct_files()
    {
        var mailbox = Sys.ActorOf(MailboxActor.Props("alice@example.test", MaildirRoot, "mx.test", _writer));
        var body = Encoding.ASCII.GetBytes("Subject: same\r\n\r\nsame bytes\r\n");

        mailbox.Tell(new MailboxActor.Deliver("alice@example.test", 1, null, Trace, body), TestActor);
        mailbox.Tell(new MailboxActor.Deliver("alice@example.test", 2, null, Trace, body), TestActor);

        var replies = new[] { ExpectMsg<OwnerReply.Durable>(TimeSpan.FromSeconds(10)), ExpectMsg<OwnerReply.Durable>(TimeSpan.FromSeconds(10)) };
        Assert.Equal(3L, replies.Sum(r => r.TransactionId));
        Assert.NotEqual(replies[0].TransactionId, replies[1].TransactionId);
        var files = Directory.GetFiles(NewFolder);
        Assert.Equal(2, files.Length);
        Assert.NotEqual(files[0], files[1]);
        Assert.All(files, f => Assert.StartsWith("Return-Path: <>\r\n", File.ReadAllText(f), StringComparison.Ordinal));
    }

    [Fact]
    public void Unwritable_maildir_replies_failed()
    {
        // The Maildir root is a file: no folder can be made under it, whoever runs the test.
        var blocked = Path.Combine(_root, "not-a-folder");
        File.WriteAllText(blocked, "x");
        var mailbox = Sys.ActorOf(MailboxActor.Props("alice@example.test", blocked, "mx.test", _writer));

        mailbox.Tell(new MailboxActor.Deliver("alice@example.test", 9, "a@remote.test", Trace, "x\r\n"u8.ToArray()), TestActor);

        var reply = ExpectMsg<OwnerReply.Failed>(TimeSpan.FromSeconds(10));
        Assert.Equal(9, reply.TransactionId);
        Assert.False(string.IsNullOrEmpty(reply.Reason));
    }

    [Fact]
    public void Tmp_folder_that_is_a_file_replies_failed_and_leaves_nothing_in_new()
    {
        var maildir = Path.Combine(MaildirRoot, "example.test", "alice");
        Directory.CreateDirectory(Path.Combine(maildir, "new"));
        Directory.CreateDirectory(Path.Combine(maildir, "cur"));
        File.WriteAllText(Path.Combine(maildir, "tmp"), "in the way");
        var mailbox = Sys.ActorOf(MailboxActor.Props("alice@example.test", MaildirRoot, "mx.test", _writer));

        mailbox.Tell(new MailboxActor.Deliver("alice@example.test", 3, "a@remote.test", Trace, "x\r\n"u8.ToArray()), TestActor);

        ExpectMsg<OwnerReply.Failed>(TimeSpan.FromSeconds(10));
        Assert.Empty(Directory.GetFiles(NewFolder));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        _writer.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
