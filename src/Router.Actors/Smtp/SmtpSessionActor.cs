using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Router.Actors.Admin;
using Router.Actors.Delivery;
using Router.Actors.Dnsbl;
using Akka.Event;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Protocol;
using Router.Protocol.Dsn;
using Router.Protocol.Sasl;

namespace Router.Actors.Smtp;

/// <summary>
/// One SMTP connection (RFC 5321 server side, with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
/// CHUNKING, DSN and ENHANCEDSTATUSCODES). The actor runs at most one socket read at a time and
/// handles its result as a message, so the state machine below is the only owner of the
/// transaction. At the end of a message it hands the message to its owners (mailbox actors, the
/// relay) and sends 250 only when every owner has confirmed the message is durable.
/// STARTTLS (RFC 3207) starts the session over; AUTH (RFC 4954, PLAIN and LOGIN, only under TLS,
/// on submission endpoints and, with router.smtp.mta-auth, on the MTA port) lets a user relay;
/// on submission endpoints (RFC 6409) AUTH comes before MAIL, the sender must
/// be the user's own, and Date/Message-ID are added when missing. Relayed mail from trusted or
/// authenticated clients is DKIM-signed (RFC 6376) before its owners get it. An untrusted client
/// of the MTA port is looked up in the DNS blocklists (router.smtp.dnsbl) as it connects, and
/// its recipients are refused when it is listed (Postfix's reject_rbl_client).
/// </summary>
public sealed class SmtpSessionActor : ReceiveActor, IWithTimers
{
    private readonly SmtpServices _services;
    private readonly SmtpConnection _connection;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly bool _trusted;
    private readonly SmtpEndpointKind _kind;
    private readonly CancellationTokenSource _readCancel = new();
    private SessionState _state = SessionState.Connected;
    private string _heloName = "";
    private bool _esmtp;
    private int _errors;
    private int _junkCommands;
    private bool _draining;
    private bool _reading;
    private Transaction? _transaction;
    private PendingAcks? _pending;
    private long _nextTransactionId;
    private bool _tls;
    private bool _upgrading;
    private bool _greeted;
    private string? _user;
    private SaslExchange? _sasl;
    private IReadOnlyList<CommandLine> _heldLines = [];
    private bool _heldClosed;

    /// <summary>
    /// The DNSBL verdict on the client (a listing, or null), asked for as it connects so that it
    /// is usually in by its first RCPT; null when no list is asked (trusted networks, submission,
    /// no router.smtp.dnsbl): then the session does nothing more for DNSBLs than test this field.
    /// </summary>
    private Task<DnsblListing?>? _dnsbl;

    /// <summary>A RCPT waits for <see cref="_dnsbl"/>; it and the lines after it are held.</summary>
    private bool _awaitingDnsbl;

    /// <summary>The session's maillog lines (Postfix's wording).</summary>
    private readonly SessionLog _maillog;

    public SmtpSessionActor(Socket socket, SmtpServices services, SmtpEndpointKind kind = SmtpEndpointKind.Mta)
    {
        _services = services;
        _kind = kind;
        _connection = new SmtpConnection(socket, services.Settings.IdleTimeout);
        _trusted = services.Trusted.Contains(_connection.RemoteAddress);
        _maillog = new SessionLog(_log, _connection.RemoteAddress);

        Receive<CommandBatch>(OnCommands);
        Receive<TlsStarted>(_ => OnTlsStarted());
        Receive<AuthChecked>(OnAuthChecked);
        Receive<DnsblChecked>(_ => OnDnsblChecked());
        Receive<BodyRead>(OnBody);
        Receive<ReadFailed>(OnReadFailed);
        Receive<OwnerReply>(OnOwnerReply);
        Receive<AckTimeout>(OnAckTimeout);
        Receive<Drain>(_ => OnDrain());
        Receive<GraceOver>(_ => OnGraceOver());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Socket socket, SmtpServices services, SmtpEndpointKind kind = SmtpEndpointKind.Mta) =>
        Akka.Actor.Props.Create(() => new SmtpSessionActor(socket, services, kind));

    /// <summary>Trusted networks and authenticated users may relay (RFC 5321 s3.6, never an open relay).</summary>
    private bool MayRelay => _trusted || _user is not null;

    private bool IsSubmission => _kind is SmtpEndpointKind.Submission or SmtpEndpointKind.ImplicitTlsSubmission;

    /// <summary>
    /// This listener offers and takes AUTH: submission always, the MTA port only with
    /// router.smtp.mta-auth (Postfix enables SASL per service, on submission in master.cf, and
    /// leaves smtpd_sasl_auth_enable off on port 25). Elsewhere AUTH is a command not implemented.
    /// </summary>
    private bool AuthEnabled => IsSubmission || _services.Settings.MtaAuth;

    /// <summary>Sent by the listener on shutdown: finish the transaction in flight, then say 421 and close.</summary>
    public sealed record Drain
    {
        public static readonly Drain Instance = new();
    }

    /// <summary>
    /// Sent by the listener when the shutdown grace is over: say 421 and close now, unless the
    /// message is complete and its owners' acknowledgement is awaited (which ends within
    /// delivery-ack-timeout, with the 250 or 451 the client is owed).
    /// </summary>
    public sealed record GraceOver
    {
        public static readonly GraceOver Instance = new();
    }

    protected override void PreStart()
    {
        RouterMetrics.ConnectionAccepted();
        _maillog.Connected();
        if (_services.Dnsbl is { } dnsbl && _kind == SmtpEndpointKind.Mta && !_trusted) _dnsbl = dnsbl.CheckAsync(_connection.RemoteAddress);
        if (_kind == SmtpEndpointKind.ImplicitTlsSubmission)
        {
            // RFC 8314 s3.3: the TLS handshake comes first; the greeting is the first thing sent under TLS.
            if (!_services.Security.TlsAvailable)
            {
                Context.Stop(Self);
                return;
            }
            StartTlsHandshake();
            return;
        }
        Greet();
    }

    private void Greet()
    {
        _greeted = true;
        _connection.Write(new SmtpReply(220, null, $"{_services.Settings.Hostname} ESMTP Router"));
        ReadCommands();
    }

    protected override void PostStop()
    {
        RouterMetrics.SessionClosed();
        _maillog.Disconnected();
        _readCancel.Cancel();
        _transaction?.Dispose();
        // Not awaited: the last replies get at most SmtpConnection.MaxCloseTimeout, then the socket closes.
        _ = _connection.DisposeAsync().AsTask();
        _readCancel.Dispose();
    }

    // ---- socket reads: one at a time, results come back as messages ----

    /// <summary>Reads command lines, or the client's next response of an AUTH exchange (longer lines allowed, RFC 4954 s4).</summary>
    private void ReadCommands()
    {
        var maxLine = _sasl is null ? CommandParser.MaxCommandLine : SaslDecoder.MaxResponseLine;
        StartRead(async ct => await _connection.ReadCommandsAsync(maxLine, ct).ConfigureAwait(false));
    }

    private void StartRead(Func<CancellationToken, Task<object>> read)
    {
        _reading = true;
        _readCancel.CancelAfter(_services.Settings.IdleTimeout);
        var task = read(_readCancel.Token);
        task.ContinueWith(
            t => t.IsCompletedSuccessfully ? t.Result : new ReadFailed(t.IsCanceled ? new OperationCanceledException() : t.Exception?.GetBaseException()),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private void ReadData(DataReader reader, BodyBuffer body) =>
        StartRead(async ct => new BodyRead(await _connection.ReadDataAsync(reader, body, RearmIdleTimeout, ct).ConfigureAwait(false), Last: true));

    private void ReadChunk(long size, bool last, DataReader reader, BodyBuffer body) =>
        StartRead(async ct => new BodyRead(await _connection.ReadChunkAsync(size, reader, body, RearmIdleTimeout, ct).ConfigureAwait(false), last));

    /// <summary>
    /// Called from the body read after each receive (off the actor; the token source is
    /// thread-safe): the idle timeout counts from the last bytes that arrived, so a slow but
    /// steady client is not cut off (RFC 5321 s4.5.3.2.5-6, Postfix's smtpd_timeout per read).
    /// Once cancelled (idle, or a drain), it stays cancelled.
    /// </summary>
    private void RearmIdleTimeout() => _readCancel.CancelAfter(_services.Settings.IdleTimeout);

    private void OnReadFailed(ReadFailed failed)
    {
        _reading = false;
        if (_upgrading)
        {
            // The plain pipes are closed and TLS never started: nothing can be said any more.
            _log.Debug("session {0}: TLS handshake failed: {1}", _connection.RemoteAddress, failed.Error?.Message);
            LostConnection();
        }
        else if (_draining) Close(Replies.ShuttingDown);
        else if (failed.Error is OperationCanceledException)
        {
            _maillog.Timeout();
            Close(Replies.IdleTimeout);
        }
        else
        {
            _log.Debug("session {0}: connection error: {1}", _connection.RemoteAddress, failed.Error?.Message);
            LostConnection();
        }
    }

    private void ReadDone()
    {
        _reading = false;
        _readCancel.TryReset();
    }

    // ---- commands ----

    private void OnCommands(CommandBatch batch)
    {
        ReadDone();
        ProcessLines(batch.Lines, batch.Closed);
    }

    private void ProcessLines(IReadOnlyList<CommandLine> lines, bool closed)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            if (_dnsbl is { IsCompleted: false } && _sasl is null && _user is null && IsRcpt(lines[i]))
            {
                // The DNSBL answer is not in yet: this RCPT and what follows wait for it.
                Hold(lines, i, closed);
                AwaitDnsbl();
                return;
            }
            var next = _sasl is not null ? SaslResponse(lines[i]) : Handle(lines[i]);
            if (next == Next.Wait && _awaitingAuth)
            {
                // The credentials are being checked: lines the client sent after them wait their turn.
                Hold(lines, i + 1, closed);
                return;
            }
            if (next != Next.Command)
            {
                Continue(next);
                return;
            }
        }
        if (closed)
        {
            LostConnection();
            return;
        }
        Continue(Next.Command);
    }

    private enum Next
    {
        Command,
        Body,
        Wait,
        Close,
    }

    private void Continue(Next next)
    {
        switch (next)
        {
            case Next.Command when _draining && _transaction is null:
                Close(Replies.ShuttingDown);
                break;
            case Next.Command:
                ReadCommands();
                break;
            case Next.Close:
                Context.Stop(Self);
                break;
        }
    }

    private Next Handle(CommandLine line)
    {
        var bytes = line.Bytes.Span;
        var argument = ReadOnlySpan<byte>.Empty;
        var verb = line.IsTooLong || !line.Crlf ? SmtpVerb.Unknown : CommandParser.ParseVerb(bytes, out argument);
        _maillog.Command(verb, _transaction?.Mail);
        if (line.IsTooLong) return Error(Replies.LineTooLong);
        if (!line.Crlf) return Error(new SmtpReply(500, "5.5.2", "Commands must end with CRLF"));
        if (CommandParser.HasControlCharacters(bytes))
        {
            // A known command with a bad argument (an EHLO name with a control character) is a
            // parameter error (501); a line whose verb itself is garbage is unrecognised (500).
            return Error(verb == SmtpVerb.Unknown
                ? new SmtpReply(500, "5.5.2", "Invalid character in command")
                : new SmtpReply(501, "5.5.2", "Invalid character in parameters"));
        }
        if (verb == SmtpVerb.Unknown) return Error(Replies.UnknownCommand);
        var refusal = SessionRules.Check(_state, verb);
        if (refusal is not null)
        {
            // A BDAT chunk follows its command whatever we think of it: read it and throw it away,
            // or its bytes would be taken as commands.
            return verb == SmtpVerb.Bdat ? DiscardChunk(argument, refusal) : Error(refusal);
        }

        if (verb is SmtpVerb.Noop or SmtpVerb.Rset or SmtpVerb.Vrfy or SmtpVerb.Help && TooMuchJunk()) return Next.Close;

        switch (verb)
        {
            case SmtpVerb.Ehlo:
            case SmtpVerb.Helo:
                return Helo(verb == SmtpVerb.Ehlo, argument);
            case SmtpVerb.Mail:
                return Mail(argument);
            case SmtpVerb.Rcpt:
                return Rcpt(argument);
            case SmtpVerb.Data:
                return argument.IsEmpty ? Data() : Error(Replies.SyntaxError);
            case SmtpVerb.Bdat:
                return Bdat(argument);
            case SmtpVerb.Rset:
                if (!argument.IsEmpty) return Error(Replies.SyntaxError);
                ResetTransaction();
                return Reply(Replies.ResetOk);
            case SmtpVerb.Noop:
                return Reply(Replies.NoopOk);
            case SmtpVerb.Quit:
                _connection.Write(new SmtpReply(221, "2.0.0", $"{_services.Settings.Hostname} closing connection"));
                return Next.Close;
            case SmtpVerb.Help:
                return Reply(Replies.Help);
            case SmtpVerb.Vrfy:
                return argument.IsEmpty ? Error(Replies.SyntaxError) : Reply(Replies.CannotVrfy);
            case SmtpVerb.Expn:
                return Error(Replies.ExpnDisabled);
            case SmtpVerb.StartTls:
                return StartTls(argument);
            case SmtpVerb.Auth:
                return Auth(argument);
            default:
                // VERB, and STARTTLS/AUTH where they are not offered.
                return Error(Replies.NotImplemented);
        }
    }

    private Next Helo(bool esmtp, ReadOnlySpan<byte> argument)
    {
        var name = CommandParser.ParseHelo(argument, out var error);
        if (name is null) return Error(error!);
        ResetTransaction();
        _heloName = name;
        _esmtp = esmtp;
        _state = SessionState.Ready;
        var host = _services.Settings.Hostname;
        if (!esmtp) return Reply(new SmtpReply(250, null, host));
        var lines = new List<string>
        {
            $"{host} greets {name}",
            "PIPELINING",
            $"SIZE {_services.Settings.MaxMessageSize}",
            "8BITMIME",
            "SMTPUTF8",
            "CHUNKING",
            "DSN",
            "ENHANCEDSTATUSCODES",
        };
        // RFC 3207 s4.2: STARTTLS is not offered once TLS is on; RFC 4954 s4: AUTH only under TLS here.
        if (_services.Security.TlsAvailable && !_tls) lines.Add("STARTTLS");
        if (AuthEnabled && _tls && _services.Security.Users is not null && _user is null) lines.Add("AUTH PLAIN LOGIN");
        lines.Add("HELP");
        return Reply(new SmtpReply(250, null, [.. lines]));
    }

    private Next Mail(ReadOnlySpan<byte> argument)
    {
        // RFC 6409 s4.3 / RFC 4954 s6: a submission server takes mail from authenticated users only.
        if (IsSubmission && _user is null) return Error(Replies.AuthRequired);
        var mail = CommandParser.ParseMail(argument, utf8Offered: _esmtp, out var error);
        if (mail is null) return Error(error!);
        _maillog.Mail(mail);
        if (mail.DeclaredSize > _services.Settings.MaxMessageSize) return Error(Replies.SizeExceeded);
        if (!_services.Space.HasRoomFor(mail.DeclaredSize ?? 0, out var free))
        {
            _log.Warning("session {0}: 452 4.3.1 to MAIL: {1} bytes free where mail is written, {2} needed", _connection.RemoteAddress, free, _services.Space.MinimumFree + (mail.DeclaredSize ?? 0));
            return Reply(Replies.InsufficientStorage);
        }
        if (_user is not null && _services.Security.Settings.EnforceSender && mail.ReversePath is { } sender &&
            !_services.Security.Senders.Owns(_user, sender, _services.Settings.RecipientDelimiter))
        {
            _log.Info("session {0}: user {1} may not send as <{2}>", _connection.RemoteAddress, _user, sender);
            return Error(Replies.SenderNotOwned);
        }
        if (_services.Limits.TryStartMessage(_connection.RemoteAddress, exempt: _trusted) is { } slowDown) return Reply(slowDown);
        _transaction = new Transaction(mail, ++_nextTransactionId);
        _state = SessionState.HasSender;
        return Reply(Replies.SenderOk);
    }

    private Next Rcpt(ReadOnlySpan<byte> argument)
    {
        var transaction = _transaction!;
        if (transaction.Recipients.Count >= _services.Settings.MaxRecipients)
        {
            return _recipientOvershoot++ < RecipientOvershootLimit ? Reply(Replies.TooManyRecipients) : Error(Replies.TooManyRecipients);
        }
        var rcpt = CommandParser.ParseRcpt(argument, transaction.Mail.SmtpUtf8, _services.Policy.Postmaster, out var error);
        if (rcpt is null) return Error(error!);
        _maillog.Rcpt(rcpt.Recipient);
        var decision = _services.Policy.Decide(rcpt.Recipient, MayRelay);
        if (_dnsbl is not null && Listed(rcpt.Recipient, decision) is { } listing)
        {
            RouterMetrics.DnsblHit(listing.Zone);
            return Error(listing.Reply);
        }
        if (!decision.Accepted) return Error(decision.Reply);
        transaction.Recipients.Add(rcpt);
        foreach (var destination in decision.Destinations)
        {
            // A mailbox is written once, for the first recipient that reached it: its log line names that one.
            if (transaction.Destinations.Add(destination) && destination is Destination.Mailbox mailbox) (transaction.Mailboxes ??= []).Add((mailbox.Key, SessionLog.OrigTo(rcpt, mailbox.Key)));
        }
        if (DeliveredNotices.Owed(transaction.Mail, rcpt, decision.Destinations) is { } notice) (transaction.Notices ??= []).Add((notice, rcpt));
        transaction.Forwarded = AliasTargets.AddForwarded(rcpt, decision.Destinations, transaction.Forwarded);
        _state = SessionState.HasRecipients;
        return Reply(decision.Reply);
    }

    private Next Data()
    {
        var transaction = _transaction!;
        if (transaction.Chunked) return Error(Replies.BdatMixed);
        StartBody(transaction, chunked: false);
        _connection.Write(Replies.StartData);
        ReadData(transaction.Reader!, transaction.Body!);
        return Next.Body;
    }

    private Next Bdat(ReadOnlySpan<byte> argument)
    {
        if (!CommandParser.TryParseBdat(argument, out var size, out var last))
        {
            // Without a size we cannot find the end of the chunk: nothing sane can follow.
            Answer(new SmtpReply(501, "5.5.4", "Syntax: BDAT size [LAST]"));
            return Next.Close;
        }
        if (size == 0 && !last && TooMuchJunk()) return Next.Close;
        var transaction = _transaction!;
        if (!transaction.Chunked) StartBody(transaction, chunked: true);
        if (size > 2 * _services.Settings.MaxMessageSize + 1_000_000)
        {
            Answer(Replies.SizeExceeded);
            return Next.Close;
        }
        _state = SessionState.InChunks;
        if (transaction.ChunksRefused)
        {
            return SkipChunk(size, new SmtpReply(551, "5.0.0", $"Discarded {size} octets after an earlier error"), endsTransaction: last);
        }
        if (transaction.Reader!.Size + size > _services.Settings.MaxMessageSize)
        {
            // RFC 3030 s2 lets any chunk report the failure: the one that crosses the limit does (as
            // Postfix's smtpd), and is read and thrown away, like every chunk after it until LAST or RSET.
            _log.Info("session {0}: BDAT chunk of {1} octets after {2} crosses the message size limit", _connection.RemoteAddress, size, transaction.Reader.Size);
            transaction.RefuseChunks();
            return SkipChunk(size, Replies.ChunkTooLarge, endsTransaction: last);
        }
        ReadChunk(size, last, transaction.Reader!, transaction.Body!);
        return Next.Body;
    }

    /// <summary>The reader (DATA unstuffs dots, BDAT takes chunks as they are) and the buffer, drawn from the node's body budget.</summary>
    private void StartBody(Transaction transaction, bool chunked) => transaction.StartBody(
        new DataReader(_services.Settings.MaxMessageSize, dotTransparency: !chunked, _services.Settings.NormalizeBareLineEndings ? BareLineEndings.Normalize : BareLineEndings.Reject),
        new BodyBuffer(budget: _services.BodyBudget),
        chunked);

    private Next DiscardChunk(ReadOnlySpan<byte> argument, SmtpReply refusal)
    {
        if (!CommandParser.TryParseBdat(argument, out var size, out _) || size > 2 * _services.Settings.MaxMessageSize)
        {
            Answer(refusal);
            return Next.Close;
        }
        return SkipChunk(size, refusal, endsTransaction: false);
    }

    /// <summary>
    /// Reads a refused chunk and throws it away (nothing of it is kept), then answers
    /// <paramref name="refusal"/>, one error; a refused LAST chunk ends the transaction.
    /// </summary>
    private Next SkipChunk(long size, SmtpReply refusal, bool endsTransaction)
    {
        var sink = new BodyBuffer(16);
        var reader = new DataReader(0, dotTransparency: false);
        _discard = new Discard(refusal, endsTransaction);
        ReadChunk(size, last: false, reader, sink);
        return Next.Body;
    }

    private Discard? _discard;

    private void OnBody(BodyRead read)
    {
        ReadDone();
        if (!read.Complete)
        {
            LostConnection();
            return;
        }
        if (_discard is { } discard)
        {
            _discard = null;
            if (discard.EndsTransaction) ResetTransaction();
            Continue(Error(discard.Reply));
            return;
        }
        var transaction = _transaction!;
        if (!read.Last)
        {
            Continue(Reply(new SmtpReply(250, "2.0.0", $"{transaction.Reader!.Size} octets received")));
            return;
        }
        if (transaction.Chunked) transaction.Reader!.CompleteChunks(transaction.Body!);
        _maillog.EndOfMessage(transaction.Recipients[^1].Recipient);
        Continue(EndOfMessage(transaction));
    }

    private Next EndOfMessage(Transaction transaction)
    {
        var violation = transaction.Reader!.Violation;
        if (violation != DataViolation.None)
        {
            ResetTransaction();
            return Error(violation switch
            {
                DataViolation.TooLarge => Replies.SizeExceeded,
                DataViolation.BareLineEnding => Replies.BareLineEnding,
                DataViolation.Nul => Replies.NulInData,
                DataViolation.OutOfMemoryBudget => Replies.InsufficientMemory,
                _ => Replies.DataLineTooLong,
            });
        }
        // The fields put on top (Received, Return-Path, Delivered-To, Date, Message-ID, DKIM-Signature)
        // must not take the client's first line as their continuation, nor a body line into the header
        // section: decided once here, so every copy (mailboxes, relay, DKIM input) is framed alike.
        var body = HeaderSection.Framed(transaction.Body!.Memory);
        if (TraceHeaders.CountReceived(body.Span) >= _services.Settings.MaxReceivedHeaders)
        {
            ResetTransaction();
            return Error(Replies.TooManyHops);
        }

        var id = QueueId.Next();
        var recipients = transaction.Recipients;
        var protocol = TraceHeaders.Protocol(_esmtp, _tls, _user is not null, transaction.Mail.SmtpUtf8);
        body = Complete(transaction, id, body);
        var trace = TraceHeaders.Received(_heloName, _connection.RemoteAddress, _services.Settings.Hostname, protocol, id,
            recipients.Count == 1 ? recipients[0].Recipient.ToString() : null, DateTimeOffset.Now);
        var plan = _services.Handoff.Plan(transaction.Id, id, transaction.Mail, transaction.Destinations,
            transaction.Forwarded is { } forwarded ? [.. recipients, .. forwarded] : recipients, trace, body);
        plan.Send(Self);
        _pending = new PendingAcks(transaction.Id, id, plan.Count, plan.AckTimeout)
        {
            Notice = DeliveredNotices.Prepare(id, transaction.Mail, transaction.Notices, trace, body.Span),
            Mailboxes = transaction.Mailboxes,
        };
        Timers.StartSingleTimer("ack", new AckTimeout(transaction.Id), plan.AckTimeout);
        _maillog.Accepted(id, transaction.Mail, body.Length, recipients.Count);
        return Next.Wait;
    }

    private void OnOwnerReply(OwnerReply reply)
    {
        var pending = _pending;
        if (pending is null || pending.TransactionId != reply.TransactionId) return; // late reply for a timed-out message
        if (reply is OwnerReply.Failed failed)
        {
            pending.Failed = true;
            _log.Warning("{0}: owner {1} failed: {2}", pending.QueueId, failed.Owner, failed.Reason);
        }
        if (--pending.Outstanding > 0) return;
        if (!pending.Failed && pending.Mailboxes is { } mailboxes) _maillog.Delivered(pending.QueueId, mailboxes);
        FinishMessage(pending.Failed ? Replies.LocalError : new SmtpReply(250, "2.0.0", $"Ok: queued as {pending.QueueId}"), releaseBody: true);
        // After the 250 and off the session, best effort (see DeliveredNotices): the message never waits for its notice.
        if (!pending.Failed && pending.Notice is { } notice && _services.DeliveredNotices is { } notices) _ = Task.Run(() => notices.SendAsync(notice, _log));
    }

    private void OnAckTimeout(AckTimeout timeout)
    {
        if (_pending is null || _pending.TransactionId != timeout.TransactionId) return;
        _log.Warning("{0}: owners did not confirm within {1}", _pending.QueueId, _pending.AckTimeout);
        // Owners may still be writing from the body buffer: let the GC have it rather than reuse it.
        FinishMessage(Replies.LocalError, releaseBody: false);
    }

    private void FinishMessage(SmtpReply reply, bool releaseBody)
    {
        Timers.Cancel("ack");
        _pending = null;
        if (releaseBody) _transaction?.Dispose();
        _transaction = null;
        _state = SessionState.Ready;
        if (reply.IsPositive)
        {
            // Postfix forgives a client's errors (and junk commands) once a message got through
            // (smtpd_hard_error_limit counts errors "without delivering mail"): a relay reusing
            // its connection for many messages is not cut off by stale recipients spread over them.
            _errors = 0;
            _junkCommands = 0;
            RouterMetrics.MessageAccepted();
        }
        else RouterMetrics.MessageRejected();
        var next = reply.IsPositive ? Reply(reply) : Error(reply);
        Continue(next);
    }

    // ---- STARTTLS (RFC 3207) ----

    private Next StartTls(ReadOnlySpan<byte> argument)
    {
        if (!argument.IsEmpty) return Error(Replies.SyntaxError);
        if (!_services.Security.TlsAvailable) return Error(Replies.TlsNotAvailable);
        if (_tls) return Error(Replies.BadSequence);
        if (_connection.HasBufferedInput())
        {
            // Anything sent after STARTTLS before the handshake would be taken as if it came
            // under TLS (CVE-2011-0411 and kin): refuse it, as Postfix does, and hang up.
            _log.Info("session {0}: improper command pipelining after STARTTLS", _connection.RemoteAddress);
            Answer(Replies.ImproperTlsPipelining);
            return Next.Close;
        }
        _connection.Write(Replies.ReadyForTls);
        StartTlsHandshake();
        return Next.Wait;
    }

    private void StartTlsHandshake()
    {
        var security = _services.Security;
        _upgrading = true;
        StartRead(async ct =>
        {
            var options = await security.TlsOptions.WaitAsync(ct).ConfigureAwait(false);
            await _connection.UpgradeAsync(async plain =>
            {
                var tls = new SslStream(plain, leaveInnerStreamOpen: false);
                try
                {
                    await tls.AuthenticateAsServerAsync(options, ct).ConfigureAwait(false);
                }
                catch
                {
                    await tls.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                return tls;
            }, ct).ConfigureAwait(false);
            return TlsStarted.Instance;
        });
    }

    private void OnTlsStarted()
    {
        ReadDone();
        _upgrading = false;
        _tls = true;
        // RFC 3207 s4.2: forget everything learnt before TLS (HELO name, transaction); EHLO again.
        ResetTransaction();
        _state = SessionState.Connected;
        _heloName = "";
        _esmtp = false;
        if (!_greeted) Greet();
        else ReadCommands();
    }

    // ---- AUTH (RFC 4954, PLAIN RFC 4616, LOGIN) ----

    private bool _awaitingAuth;

    private Next Auth(ReadOnlySpan<byte> argument)
    {
        if (!AuthEnabled) return Error(Replies.NotImplemented);
        if (!_tls) return Error(Replies.EncryptionRequired);
        if (_services.Security.Users is null) return Error(Replies.NotImplemented);
        if (_user is not null) return Error(Replies.AlreadyAuthenticated);
        if (_services.Limits.AuthFailures(_connection.RemoteAddress) >= _services.Security.Settings.AuthMaxFailures * ClientLimits.AddressFailureFactor)
        {
            Answer(Replies.TooManyAuthFailures);
            return Next.Close;
        }
        if (!SaslDecoder.TryParseAuth(argument, out var mechanism, out var initial)) return Error(Replies.SyntaxError);
        if (mechanism is not ("PLAIN" or "LOGIN")) return Error(Replies.AuthUnknownMechanism);
        _sasl = new SaslExchange(mechanism);
        if (initial is null)
        {
            _connection.Write(new SmtpReply(334, null, mechanism == "PLAIN" ? "" : SaslDecoder.LoginUserChallenge));
            return Next.Command;
        }
        return SaslResponse(new CommandLine(initial, Crlf: true, IsTooLong: false));
    }

    /// <summary>One client response of the exchange in progress (never logged: it holds the password).</summary>
    private Next SaslResponse(CommandLine line)
    {
        var exchange = _sasl!;
        var bytes = line.Bytes.Span;
        if (SaslDecoder.IsCancel(bytes))
        {
            _sasl = null;
            return Error(Replies.AuthCancelled);
        }
        if (line.IsTooLong)
        {
            _sasl = null;
            return Error(Replies.AuthLineTooLong);
        }
        var decoded = !line.Crlf ? null : SaslDecoder.DecodeResponse(bytes);
        if (decoded is null)
        {
            _sasl = null;
            return Error(Replies.AuthBadResponse);
        }
        if (exchange.Mechanism == "LOGIN" && exchange.LoginUser is null)
        {
            exchange.LoginUser = SaslDecoder.DecodeLoginField(decoded);
            if (exchange.LoginUser is null)
            {
                _sasl = null;
                return Error(Replies.AuthBadResponse);
            }
            _connection.Write(new SmtpReply(334, null, SaslDecoder.LoginPasswordChallenge));
            return Next.Command;
        }
        _sasl = null;
        SaslCredentials? credentials;
        if (exchange.Mechanism == "PLAIN")
        {
            credentials = SaslDecoder.DecodePlain(decoded);
        }
        else
        {
            var password = SaslDecoder.DecodeLoginField(decoded);
            credentials = password is null ? null : new SaslCredentials(exchange.LoginUser!, password);
        }
        Array.Clear(decoded);
        return credentials is null ? Error(Replies.AuthBadResponse) : CheckCredentials(exchange.Mechanism, credentials);
    }

    /// <summary>PBKDF2 costs tens of milliseconds: it runs off the actor, and its answer comes back as a message.</summary>
    private Next CheckCredentials(string mechanism, SaslCredentials credentials)
    {
        var users = _services.Security.Users!;
        var limits = _services.Limits;
        var settings = _services.Security.Settings;
        var client = _connection.RemoteAddress;
        _awaitingAuth = true;
        StartRead(async ct =>
        {
            // A user name locked from this address is refused without a check, so guessing stops
            // there; other users behind the same address (one office, one NAT) are not locked out.
            if (limits.AuthFailures(client, credentials.User) >= settings.AuthMaxFailures) return new AuthChecked(mechanism, credentials.User, Accepted: false, settings.AuthMaxFailures);
            // Acting as another user is refused like a wrong password, and counted as one.
            var ok = credentials.ActingAs is null && await Task.Run(() => users.Verify(credentials.User, credentials.Password), ct).ConfigureAwait(false);
            if (ok)
            {
                limits.ClearAuthFailures(client, credentials.User);
                return new AuthChecked(mechanism, credentials.User, Accepted: true, 0);
            }
            var failures = limits.RecordAuthFailure(client, credentials.User);
            var delay = settings.DelayAfterFailures(failures);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, ct).ConfigureAwait(false);
            return new AuthChecked(mechanism, credentials.User, Accepted: false, failures);
        });
        return Next.Wait;
    }

    private void OnAuthChecked(AuthChecked result)
    {
        ReadDone();
        _awaitingAuth = false;
        Next next;
        if (result.Accepted)
        {
            _user = result.User;
            _maillog.Authenticated(result.Mechanism, result.User);
            next = Reply(Replies.AuthSucceeded);
        }
        else
        {
            _maillog.AuthenticationFailed(result.Mechanism, result.User, result.Failures);
            if (result.Failures >= _services.Security.Settings.AuthMaxFailures)
            {
                Answer(Replies.AuthFailed);
                _connection.Write(Replies.TooManyAuthFailures);
                next = Next.Close;
            }
            else
            {
                next = Error(Replies.AuthFailed);
            }
        }
        if (next != Next.Command)
        {
            Continue(next);
            return;
        }
        ResumeHeld();
    }

    /// <summary>Keeps the client's lines from <paramref name="from"/> on until an answer the session waits for (AUTH, DNSBL) is in.</summary>
    private void Hold(IReadOnlyList<CommandLine> lines, int from, bool closed)
    {
        _heldLines = from == 0 ? lines : lines.Skip(from).ToArray();
        _heldClosed = closed;
    }

    private void ResumeHeld()
    {
        var held = _heldLines;
        _heldLines = [];
        ProcessLines(held, _heldClosed);
    }

    // ---- DNSBL (RFC 5782; Postfix's reject_rbl_client) ----

    private static bool IsRcpt(CommandLine line) =>
        line.Crlf && !line.IsTooLong && CommandParser.ParseVerb(line.Bytes.Span, out _) == SmtpVerb.Rcpt;

    private void AwaitDnsbl()
    {
        _awaitingDnsbl = true;
        _dnsbl!.ContinueWith(_ => DnsblChecked.Instance, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).PipeTo(Self);
    }

    private void OnDnsblChecked()
    {
        if (!_awaitingDnsbl) return;
        _awaitingDnsbl = false;
        ResumeHeld();
    }

    /// <summary>
    /// The listing that refuses this recipient, where Postfix's reject_rbl_client refuses it: not
    /// for an authenticated user (permit_sasl_authenticated comes first), not when the recipient is
    /// refused as relaying anyway (reject_unauth_destination comes first: "Relay access denied"
    /// stays the answer), never for the postmaster (RFC 5321 s4.5.1: a listed sender must be able
    /// to reach us about it); before an unknown user's 550.
    /// </summary>
    private DnsblListing? Listed(MailAddress recipient, RcptDecision decision) =>
        _dnsbl is { IsCompletedSuccessfully: true, Result: { } listing } && _user is null && !decision.RelayDenied && !_services.Policy.IsPostmaster(recipient)
            ? listing
            : null;

    // ---- message completion: submission headers (RFC 6409 s8) and DKIM (RFC 6376) ----

    /// <summary>The message as its owners get it: a client's Return-Path dropped, missing Date/Message-ID added on submission, then DKIM-signed when it leaves.</summary>
    private ReadOnlyMemory<byte> Complete(Transaction transaction, string queueId, ReadOnlyMemory<byte> body)
    {
        // Return-Path is the final delivery's to add (RFC 5321 s4.4); one the client wrote would
        // sit above ours and mislead (Postfix's message_drop_headers drops it too).
        body = HeaderSection.Without(body, "Return-Path"u8);
        var added = IsSubmission || _user is not null
            ? SubmissionHeaders.Missing(body.Span, _services.Settings.Hostname, $"{queueId}.{Convert.ToHexString(RandomNumberGenerator.GetBytes(6))}", DateTimeOffset.Now)
            : [];
        var message = added.Length == 0 ? body : Concat(added, body);
        var signer = _services.Security.Dkim;
        if (signer is null || !MayRelay || !transaction.Destinations.Any(d => d is Destination.Remote)) return message;
        return signer.Outgoing(message, transaction.Mail.ReversePath?.Domain.ToLowerInvariant());
    }

    private static ReadOnlyMemory<byte> Concat(byte[] head, ReadOnlyMemory<byte> rest)
    {
        var joined = new byte[head.Length + rest.Length];
        head.CopyTo(joined, 0);
        rest.Span.CopyTo(joined.AsSpan(head.Length));
        return joined;
    }

    // ---- helpers ----

    /// <summary>
    /// Postfix's smtpd_junk_command_limit: commands that move no mail forward (NOOP, RSET, VRFY,
    /// HELP, an empty BDAT chunk) could hold a session open for ever, one per idle timeout. Past
    /// <see cref="MaxJunkCommands"/> of them without an accepted message, 421 and close.
    /// </summary>
    private bool TooMuchJunk()
    {
        if (++_junkCommands <= MaxJunkCommands) return false;
        _log.Info("session {0}: more than {1} commands without mail", _connection.RemoteAddress, MaxJunkCommands);
        Answer(Replies.TooManyJunkCommands);
        return true;
    }

    private const int MaxJunkCommands = 100;

    /// <summary>
    /// Postfix's smtpd_recipient_overshoot_limit: a RCPT past max-recipients gets 452 4.5.3 (RFC 5321
    /// s4.5.3.1.8: the client sends the rest in another transaction), and past this many of them in
    /// a session each one also counts as an error, so that max-errors ends a client that never stops
    /// (each 452 is a reply and a log line).
    /// </summary>
    private const int RecipientOvershootLimit = 1000;

    private int _recipientOvershoot;

    private Next Reply(SmtpReply reply)
    {
        Answer(reply);
        return Next.Command;
    }

    private Next Error(SmtpReply reply)
    {
        Answer(reply);
        if (++_errors < _services.Settings.MaxErrors) return Next.Command;
        _maillog.TooManyErrors();
        _connection.Write(Replies.TooManyErrors);
        return Next.Close;
    }

    /// <summary>Every answer to a command goes out here: a refusal is counted and logged (<see cref="SessionLog.Refused"/>).</summary>
    private void Answer(SmtpReply reply)
    {
        _connection.Write(reply);
        if (!reply.IsPositive) _maillog.Refused(reply, _esmtp, _heloName);
    }

    /// <summary>The client went away without QUIT.</summary>
    private void LostConnection()
    {
        _maillog.LostConnection();
        Context.Stop(Self);
    }

    private void ResetTransaction()
    {
        _transaction?.Dispose();
        _transaction = null;
        if (_state > SessionState.Ready) _state = SessionState.Ready;
    }

    private void OnDrain()
    {
        _draining = true;
        // Idle in a command read: interrupt it; OnReadFailed answers 421. A message in flight
        // (body read or owners' acknowledgements pending) finishes first.
        if (_reading && _transaction is null) _readCancel.Cancel();
    }

    private void OnGraceOver()
    {
        _draining = true;
        if (_pending is not null) return;
        // Mid-handshake nothing can be said in plain text any more.
        if (_upgrading) Context.Stop(Self);
        else Close(Replies.ShuttingDown);
    }

    private void Close(SmtpReply reply)
    {
        _connection.Write(reply);
        Context.Stop(Self);
    }

    private sealed record BodyRead(bool Complete, bool Last);

    private sealed record TlsStarted
    {
        public static readonly TlsStarted Instance = new();
    }

    /// <summary>The outcome of a credential check: the mechanism and user name the client gave, and the client's failure count when refused.</summary>
    private sealed record AuthChecked(string Mechanism, string User, bool Accepted, int Failures);

    /// <summary>An AUTH exchange waiting for the client's next response.</summary>
    private sealed class SaslExchange(string mechanism)
    {
        public string Mechanism { get; } = mechanism;
        public string? LoginUser { get; set; }
    }

    private sealed record ReadFailed(Exception? Error);

    /// <summary>The DNSBL verdict is in (<see cref="_dnsbl"/>). Not a dead letter when the session closed meanwhile.</summary>
    private sealed record DnsblChecked : IDeadLetterSuppression
    {
        public static readonly DnsblChecked Instance = new();
    }

    /// <summary>A refused BDAT chunk being read and thrown away, and what to answer after it.</summary>
    private sealed record Discard(SmtpReply Reply, bool EndsTransaction);

    private sealed record AckTimeout(long TransactionId);

    private sealed class PendingAcks(long transactionId, string queueId, int outstanding, TimeSpan ackTimeout)
    {
        public long TransactionId { get; } = transactionId;
        public string QueueId { get; } = queueId;
        public TimeSpan AckTimeout { get; } = ackTimeout;
        public int Outstanding { get; set; } = outstanding;
        public bool Failed { get; set; }
        public DeliveredNotices.Pending? Notice { get; init; }

        /// <summary>The local mailboxes written, each with the orig_to of the recipient that reached it first (null: the mailbox itself), for the delivery lines.</summary>
        public List<(string Key, string? OrigTo)>? Mailboxes { get; init; }
    }

    /// <summary>The envelope and body of the message being received.</summary>
    private sealed class Transaction(MailCommand mail, long id) : IDisposable
    {
        public MailCommand Mail { get; } = mail;
        public long Id { get; } = id;
        public List<RcptCommand> Recipients { get; } = [];
        public HashSet<Destination> Destinations { get; } = [];

        /// <summary>Recipients owed a success notice once the message is durable (see <see cref="DeliveredNotices.Owed"/>).</summary>
        public List<(DsnKind Kind, RcptCommand Rcpt)>? Notices { get; set; }

        /// <summary>The DSN parameters of remote addresses that aliases expand to (see <see cref="AliasTargets"/>).</summary>
        public List<RcptCommand>? Forwarded { get; set; }

        /// <summary>Each local mailbox the message goes to, with the orig_to of the recipient that reached it first (the list is null while none).</summary>
        public List<(string Key, string? OrigTo)>? Mailboxes { get; set; }
        public DataReader? Reader { get; private set; }
        public BodyBuffer? Body { get; private set; }
        public bool Chunked { get; private set; }

        /// <summary>A chunk crossed the size limit: the chunks up to LAST are read and thrown away.</summary>
        public bool ChunksRefused { get; private set; }

        public void RefuseChunks()
        {
            ChunksRefused = true;
            Body?.Dispose();
        }

        public void StartBody(DataReader reader, BodyBuffer body, bool chunked)
        {
            Reader = reader;
            Body = body;
            Chunked = chunked;
        }

        public void Dispose() => Body?.Dispose();
    }
}
