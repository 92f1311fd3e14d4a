using Akka.Actor;
using Router.Actors.Admin;
using Akka.Cluster.Sharding;
using Router.Actors.Routing;
using Router.Actors.Sharding;
using Router.Actors.Storage;
using Router.Protocol;

namespace Router.Actors.Mailbox;

/// <summary>
/// Owns one local mailbox (a sharded entity keyed by address): delivers each message as a new
/// Maildir file <c>&lt;root&gt;/&lt;domain&gt;/&lt;user&gt;/new/</c> through tmp/ (created with O_EXCL,
/// written, made durable, linked), with Return-Path and Delivered-To added, and acknowledges to
/// the sender only once the file is durable and in new/. The shared <see cref="DurableFileWriter"/>
/// batches the flushes of all mailboxes (group commit). A delivery by reference may come more than once
/// (the relay sends it again until it gets an answer, see <see cref="ShardedAsk"/>): a repeat of
/// one being written is left to the first, and one whose reference is already released was
/// delivered, so it is confirmed without a second copy. On <see cref="HandOffStop"/> it stops once
/// the files in flight are durable. A cluster's sessions and relay deliver through these actors; on
/// a single node sessions write through <see cref="MaildirDelivery"/> instead.
/// </summary>
public sealed class MailboxActor : ReceiveActor
{
    private readonly DurableFileWriter _writer;
    private readonly IMessageStore? _store;
    private readonly MaildirFolder _folder;
    private readonly HashSet<string> _storedInFlight = [];
    private int _inFlight;
    private bool _stopping;

    public MailboxActor(string mailbox, string maildirRoot, string hostname, DurableFileWriter writer, IMessageStore? store = null)
    {
        _writer = writer;
        _store = store;
        _folder = new MaildirFolder(maildirRoot, mailbox, hostname);
        Receive<Deliver>(Handle);
        Receive<Written>(OnWritten);
        Receive<HandOffStop>(_ =>
        {
            _stopping = true;
            if (_inFlight == 0) Context.Stop(Self);
        });
        Receive<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(HandOffStop.Instance)));
    }

    public static Props Props(string mailbox, string maildirRoot, string hostname, DurableFileWriter writer, IMessageStore? store = null) =>
        Akka.Actor.Props.Create(() => new MailboxActor(mailbox, maildirRoot, hostname, writer, store));

    private const string StoreOwnerPrefix = "mailbox:";

    /// <summary>The message store owner name under which a mailbox holds a stored body.</summary>
    public static string StoreOwner(string mailbox) => StoreOwnerPrefix + mailbox;

    /// <summary>Whether a message store owner is a mailbox (else it is a destination domain's queue).</summary>
    public static bool IsStoreOwner(string owner) => owner.StartsWith(StoreOwnerPrefix, StringComparison.Ordinal);

    protected override void PreStart() => Context.SetReceiveTimeout(TimeSpan.FromMinutes(2));

    private void Handle(Deliver deliver)
    {
        // A repeat of a delivery being written: the first one's answer goes to the same asker.
        if (deliver.StoredAs is { } stored && !_storedInFlight.Add(stored)) return;
        var replyTo = Sender;
        var self = Self;
        _inFlight++;
        // The answer goes out before the actor learns the write is done: a hand-off stop that
        // waits for it then comes after the answer (a watcher sees the answer, then Terminated).
        void Done(Exception? error, bool written)
        {
            replyTo.Tell(Outcome(deliver, error, written), self);
            self.Tell(new Written(deliver.StoredAs));
        }
        try
        {
            _folder.EnsureCreated();
            if (deliver.StoredAs is null)
            {
                // The body is here: the writer answers from its thread, with no task in between.
                var (name, parts) = File(_folder, deliver, deliver.Trace, deliver.Body);
                _writer.Commit(_folder.Path, name, parts, error => Done(error, written: true));
                return;
            }
            WriteStoredAsync(deliver).ContinueWith(
                t => Done(t.IsCompletedSuccessfully ? null : t.Exception?.GetBaseException() ?? new OperationCanceledException(), t.IsCompletedSuccessfully && t.Result),
                TaskScheduler.Default);
        }
        catch (Exception e)
        {
            Done(e, written: false);
        }
    }

    private void OnWritten(Written written)
    {
        _inFlight--;
        if (written.StoredAs is not null) _storedInFlight.Remove(written.StoredAs);
        if (_stopping && _inFlight == 0) Context.Stop(Self);
    }

    internal static OwnerReply Outcome(Deliver deliver, Exception? error, bool written)
    {
        if (error is not null) return new OwnerReply.Failed(deliver.TransactionId, deliver.Mailbox, error.Message);
        if (written) RouterMetrics.LocalDelivery();
        return new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox);
    }

    /// <summary>The new file's name and content: Return-Path and Delivered-To, then the trace header and the body.</summary>
    internal static (string Name, ReadOnlyMemory<byte>[] Parts) File(MaildirFolder folder, Deliver deliver, ReadOnlyMemory<byte> trace, ReadOnlyMemory<byte> body)
    {
        var headers = TraceHeaders.DeliveryHeaders(deliver.ReturnPath, deliver.DeliveredTo ?? deliver.Mailbox);
        return (folder.NewFileName(headers.Length + trace.Length + body.Length), [headers, trace, body]);
    }

    /// <summary>
    /// Cluster mode: the body was stored by the accepting node; fetch it, write it, drop our
    /// reference. The relay stores the body with this mailbox's reference before it asks for the
    /// delivery, and the reference goes only once the file is durable: no reference means this
    /// is a repeat of a delivery already made, or a late request for a message that was not
    /// accepted, whose reference the relay or the body sweep dropped (false: nothing written).
    /// </summary>
    private async Task<bool> WriteStoredAsync(Deliver deliver)
    {
        var store = _store ?? throw new InvalidOperationException("a stored body was sent to a node without a message store");
        var owner = StoreOwner(deliver.Mailbox);
        var content = await store.LoadAsync(deliver.StoredAs!, owner, CancellationToken.None).ConfigureAwait(false);
        if (content is null) return false;
        var (name, parts) = File(_folder, deliver, ReadOnlyMemory<byte>.Empty, content);
        await _writer.CommitAsync(_folder.Path, name, parts).ConfigureAwait(false);
        await store.ReleaseAsync(deliver.StoredAs!, owner).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Deliver one message into this mailbox: the Received header in <paramref name="Trace"/> and
    /// the body as received, in memory (same node only: <paramref name="Body"/> is never
    /// serialized), or stored in the message store under <paramref name="StoredAs"/> (cluster).
    /// </summary>
    public sealed record Deliver(
        string Mailbox,
        long TransactionId,
        string? ReturnPath,
        byte[] Trace,
        [property: Newtonsoft.Json.JsonIgnore] ReadOnlyMemory<byte> Body,
        string? StoredAs = null)
    {
        /// <summary>The address for the Delivered-To line (<see cref="Destination.Mailbox.DeliveredTo"/>); null: the mailbox's own.</summary>
        public string? DeliveredTo { get; init; }
    }

    /// <summary>A delivery finished (written, repeated or failed): one fewer in flight.</summary>
    private sealed record Written(string? StoredAs);

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
