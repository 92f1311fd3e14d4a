using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Sharding;
using Router.Actors.Storage;

namespace Router.Actors.Tests.Cluster;

/// <summary>
/// A mailbox entity in a cluster gets a delivery by reference again when the first request or its
/// answer was lost (<see cref="ShardedAsk"/>): it never writes a second copy, and when its shard
/// moves it stops only once the files in flight are durable and answered.
/// </summary>
public sealed class MailboxHandOffTests : TestKit
{
    private const string Mailbox = "alice@example.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "router-handoff-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly DurableFileWriter _writer;
    private readonly GatedMessageStore _store = new();

    public MailboxHandOffTests()
    {
        Directory.CreateDirectory(_root);
        _writer = new DurableFileWriter(_root, useSyncfs: true, maxBatch: 64);
    }

    private string NewFolder => Path.Combine(_root, "maildir", "example.test", "alice", "new");

    private IActorRef StartMailbox() => Sys.ActorOf(MailboxActor.Props(Mailbox, Path.Combine(_root, "maildir"), "mx.test", _writer, _store));

    private static byte[] Header => "Received: by test\r\n"u8.ToArray();

    private static byte[] Body(object id) => Encoding.ASCII.GetBytes($"Subject: {id}\r\n\r\nhello\r\n");

    private async Task<MailboxActor.Deliver> StoredAsync(string id)
    {
        await _store.StoreAsync(id, [MailboxActor.StoreOwner(Mailbox)], Header, Body(id), TimeSpan.FromSeconds(30));
        return new MailboxActor.Deliver(Mailbox, 1, "a@remote.test", [], ReadOnlyMemory<byte>.Empty, id);
    }

    [Fact]
    public async Task A_repeated_delivery_by_reference_makes_one_file()
    {
        var mailbox = StartMailbox();
        var deliver = await StoredAsync("Q1");

        mailbox.Tell(deliver, TestActor);
        AwaitCondition(() => _store.Reads == 1, Deadline);
        mailbox.Tell(deliver, TestActor); // while the first is being written
        _store.Open();
        ExpectMsg<OwnerReply.Durable>(Deadline);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        mailbox.Tell(deliver, TestActor); // after: its reference is gone, so it was delivered
        ExpectMsg<OwnerReply.Durable>(Deadline);
        Assert.Single(Directory.GetFiles(NewFolder));
    }

    [Fact]
    public async Task Hand_off_stop_waits_for_the_file_in_flight_and_its_answer()
    {
        var mailbox = StartMailbox();
        Watch(mailbox);
        mailbox.Tell(await StoredAsync("Q1"), TestActor);
        AwaitCondition(() => _store.Reads == 1, Deadline);

        mailbox.Tell(HandOffStop.Instance);
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        _store.Open();

        ExpectMsg<OwnerReply.Durable>(Deadline);
        ExpectTerminated(mailbox, Deadline);
        Assert.Single(Directory.GetFiles(NewFolder));
    }

    [Fact]
    public void Hand_off_stop_waits_for_every_file_in_flight_written_from_the_body_it_was_sent()
    {
        // A single node sends the body itself (no store): many writes are in flight in the writer
        // when the stop comes.
        const int count = 200;
        var mailbox = StartMailbox();
        Watch(mailbox);
        for (var i = 1; i <= count; i++)
            mailbox.Tell(new MailboxActor.Deliver(Mailbox, i, "a@remote.test", Header, Body(i)), TestActor);
        mailbox.Tell(HandOffStop.Instance);

        var answered = new HashSet<long>();
        for (var i = 0; i < count; i++) answered.Add(ExpectMsg<OwnerReply.Durable>(Deadline).TransactionId);
        ExpectTerminated(mailbox, Deadline);
        Assert.Equal(count, answered.Count);
        Assert.Equal(count, Directory.GetFiles(NewFolder).Length);
    }

    [Fact]
    public void Hand_off_stop_of_an_idle_mailbox_stops_it_at_once()
    {
        var mailbox = StartMailbox();
        Watch(mailbox);
        mailbox.Tell(HandOffStop.Instance);
        ExpectTerminated(mailbox, Deadline);
    }

    protected override void AfterAll()
    {
        base.AfterAll();
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
