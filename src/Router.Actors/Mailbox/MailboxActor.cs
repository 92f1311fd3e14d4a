using Akka.Actor;
using Akka.Cluster.Sharding;
using Router.Actors.Routing;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors.Mailbox;

/// <summary>
/// Owns one local mailbox (a sharded entity keyed by address): delivers each message as a new
/// Maildir file <c>&lt;root&gt;/&lt;domain&gt;/&lt;user&gt;/new/</c> through tmp/ (created with O_EXCL,
/// written, made durable, renamed), with Return-Path and Delivered-To added, and acknowledges to
/// the sender only once the file is durable. The shared <see cref="DurableFileWriter"/> batches
/// the flushes of all mailboxes (group commit).
/// </summary>
public sealed class MailboxActor : ReceiveActor
{
    private readonly DurableFileWriter _writer;
    private readonly MaildirFolder _folder;

    public MailboxActor(string mailbox, string maildirRoot, string hostname, DurableFileWriter writer)
    {
        _writer = writer;
        _folder = new MaildirFolder(maildirRoot, mailbox, hostname);
        Receive<Deliver>(Handle);
        Receive<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(PoisonPill.Instance)));
    }

    public static Props Props(string mailbox, string maildirRoot, string hostname, DurableFileWriter writer) =>
        Akka.Actor.Props.Create(() => new MailboxActor(mailbox, maildirRoot, hostname, writer));

    protected override void PreStart() => Context.SetReceiveTimeout(TimeSpan.FromMinutes(2));

    private void Handle(Deliver deliver)
    {
        var replyTo = Sender;
        Task commit;
        try
        {
            _folder.EnsureCreated();
            var headers = TraceHeaders.DeliveryHeaders(deliver.ReturnPath, deliver.Mailbox);
            var size = headers.Length + deliver.Trace.Length + deliver.Body.Length;
            var (tmp, final) = _folder.NewFileNames(size);
            commit = _writer.CommitAsync(tmp, final, headers, deliver.Trace, deliver.Body);
        }
        catch (Exception e)
        {
            commit = Task.FromException(e);
        }
        commit.ContinueWith(
            t => t.IsCompletedSuccessfully
                ? new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox)
                : (OwnerReply)new OwnerReply.Failed(deliver.TransactionId, deliver.Mailbox, t.Exception?.GetBaseException().Message ?? "cancelled"),
            TaskScheduler.Default).PipeTo(replyTo);
    }

    /// <summary>Deliver one message into this mailbox. The body is the message as received, with the Received header in Trace.</summary>
    public sealed record Deliver(string Mailbox, long TransactionId, string? ReturnPath, ReadOnlyMemory<byte> Trace, ReadOnlyMemory<byte> Body);

    /// <summary>Routes <see cref="Deliver"/> to the entity for its mailbox.</summary>
    public sealed class MessageExtractor() : HashCodeMessageExtractor(100)
    {
        public override string? EntityId(object message) => message switch
        {
            Deliver d => d.Mailbox,
            _ => null,
        };
    }
}
