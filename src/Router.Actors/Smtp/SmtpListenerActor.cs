using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Router.Actors.Admin;
using Akka.Event;
using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>
/// Accepts TCP connections on one endpoint and starts a session actor for each, within the
/// node's <see cref="ClientLimits"/> (beyond them: 421 4.7.0 and close). On <see cref="Unbind"/> it stops accepting,
/// asks every session to finish its transaction and waits for them, up to the shutdown grace; then
/// closes those still open, except a session whose message waits for its owners' acknowledgement:
/// that one gets its answer first (within delivery-ack-timeout).
/// </summary>
public sealed class SmtpListenerActor : ReceiveActor, IWithTimers
{
    private readonly IPEndPoint _endpoint;
    private readonly SmtpServices _services;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<IActorRef, IPAddress> _sessions = [];
    private readonly SmtpEndpointKind _kind;
    private Socket? _listener;
    private IActorRef? _unbindRequester;
    private long _sessionCounter;

    /// <param name="listener">A socket already bound and listening (see <see cref="Listen"/>); the actor owns it.</param>
    public SmtpListenerActor(Socket listener, SmtpServices services, SmtpEndpointKind kind = SmtpEndpointKind.Mta)
    {
        _listener = listener;
        _endpoint = (IPEndPoint)listener.LocalEndPoint!;
        _services = services;
        _kind = kind;
        Receive<Accepted>(OnAccepted);
        Receive<AcceptFailed>(OnAcceptFailed);
        Receive<AcceptAgain>(_ =>
        {
            if (_listener is not null) Accept();
        });
        Receive<Terminated>(t =>
        {
            if (_sessions.Remove(t.ActorRef, out var client)) _services.Limits.Close(client);
            if (_unbindRequester is not null && _sessions.Count == 0) Finish();
        });
        Receive<Unbind>(_ => OnUnbind());
        Receive<GraceExpired>(_ => OnGraceExpired());
        Receive<AcknowledgementsExpired>(_ => Finish());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Socket listener, SmtpServices services, SmtpEndpointKind kind = SmtpEndpointKind.Mta) =>
        Akka.Actor.Props.Create(() => new SmtpListenerActor(listener, services, kind));

    /// <summary>
    /// Binds and listens, before any actor exists, so that a taken port fails the start with a
    /// plain IOException naming the endpoint, which the host reports.
    /// </summary>
    public static Socket Listen(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // SO_REUSEADDR only (restart while old connections sit in TIME_WAIT). .NET's ReuseAddress
            // also sets SO_REUSEPORT on Linux, which would let a second router share the port unnoticed.
            if (OperatingSystem.IsLinux()) socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            socket.Bind(endpoint);
            socket.Listen(512);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"cannot listen on {endpoint}: {e.Message}", e);
        }
    }

    /// <summary>Stop accepting and drain; the sender gets <see cref="Unbound"/> when every session is gone.</summary>
    public sealed record Unbind
    {
        public static readonly Unbind Instance = new();
    }

    public sealed record Unbound(IPEndPoint Endpoint);

    protected override void PreStart()
    {
        _log.Info("SMTP ({0}) listening on {1}", _kind, _endpoint);
        Accept();
    }

    protected override void PostStop() => _listener?.Dispose();

    private void Accept()
    {
        var listener = _listener!;
        listener.AcceptAsync().ContinueWith(
            t => t.IsCompletedSuccessfully ? new Accepted(t.Result) : (object)new AcceptFailed(t.Exception?.GetBaseException() ?? new OperationCanceledException()),
            TaskScheduler.Default).PipeTo(Self);
    }

    /// <summary>How long the listener pauses after a failed accept; doubled after each next one in a row, up to <see cref="MaxAcceptPause"/>.</summary>
    private static readonly TimeSpan FirstAcceptPause = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan MaxAcceptPause = TimeSpan.FromSeconds(1);

    /// <summary>While accepts keep failing, one warning per this many (about every 20 s at the longest pause).</summary>
    private const int FailuresPerWarning = 20;

    private int _acceptFailures;

    /// <summary>
    /// A failed accept (no descriptors left: EMFILE, ENFILE; no buffer space) leaves the connection
    /// in the backlog and would fail again at once: the next try comes after a pause, as in
    /// Postfix, and the log gets one warning, not one per try.
    /// </summary>
    private void OnAcceptFailed(AcceptFailed failed)
    {
        if (_listener is null) return;
        var failures = _acceptFailures++;
        if (failures == 0) _log.Warning("accept on {0} failed: {1}; trying again after a pause (at most {2} ms)", _endpoint, failed.Error.Message, MaxAcceptPause.TotalMilliseconds);
        else if (failures % FailuresPerWarning == 0) _log.Warning("accept on {0} still failing after {1} tries: {2}", _endpoint, failures + 1, failed.Error.Message);
        var pause = FirstAcceptPause * Math.Pow(2, Math.Min(failures, 10));
        if (pause > MaxAcceptPause) pause = MaxAcceptPause;
        if (failures > 0) _log.Debug("accept on {0} failed again ({1} tries): {2}; next try in {3} ms", _endpoint, failures + 1, failed.Error.Message, pause.TotalMilliseconds);
        Timers.StartSingleTimer("accept", AcceptAgain.Instance, pause);
    }

    private void OnAccepted(Accepted accepted)
    {
        _acceptFailures = 0;
        var socket = accepted.Socket;
        if (_listener is null)
        {
            socket.Dispose();
            return;
        }
        var client = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var refusal = _services.Limits.TryOpen(client, exempt: _services.Trusted.Contains(client));
        if (refusal is not null)
        {
            _log.Info("refused a connection from {0} on {1}: {2}", client, _endpoint, refusal);
            RouterMetrics.ConnectionRefused();
            RefuseAndClose(socket, refusal);
        }
        else
        {
            var session = Context.ActorOf(SmtpSessionActor.Props(socket, _services, _kind).WithDispatcher(SessionDispatcher.Id), $"session-{++_sessionCounter}");
            Context.Watch(session);
            _sessions.Add(session, client);
        }
        Accept();
    }

    private void RefuseAndClose(Socket socket, SmtpReply refusal)
    {
        try
        {
            // On the implicit-TLS port a plain-text reply would only confuse the handshake: just close.
            if (_kind != SmtpEndpointKind.ImplicitTlsSubmission) socket.Send(refusal.Bytes.Span, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        socket.Dispose();
    }

    private void OnUnbind()
    {
        _unbindRequester = Sender;
        _listener?.Dispose();
        _listener = null;
        if (_sessions.Count == 0)
        {
            Finish();
            return;
        }
        foreach (var session in _sessions.Keys) session.Tell(SmtpSessionActor.Drain.Instance);
        Timers.StartSingleTimer("grace", new GraceExpired(), _services.Settings.ShutdownGrace);
    }

    private void OnGraceExpired()
    {
        foreach (var session in _sessions.Keys) session.Tell(SmtpSessionActor.GraceOver.Instance);
        Timers.StartSingleTimer("acks", new AcknowledgementsExpired(), _services.Settings.DeliveryAckTimeout + TimeSpan.FromSeconds(1));
    }

    private void Finish()
    {
        if (_unbindRequester is null) return;
        if (_sessions.Count > 0) _log.Warning("{0} sessions still open after the shutdown grace and the acknowledgement timeout; closing them", _sessions.Count);
        _unbindRequester.Tell(new Unbound(_endpoint));
        _unbindRequester = null;
        Context.Stop(Self);
    }

    private sealed record Accepted(Socket Socket);

    /// <summary>Not logged as a dead letter: the accept in flight when the listener stops fails after the actor has gone.</summary>
    private sealed record AcceptFailed(Exception Error) : IDeadLetterSuppression;

    private sealed record AcceptAgain
    {
        public static readonly AcceptAgain Instance = new();
    }

    private sealed record GraceExpired;

    private sealed record AcknowledgementsExpired;
}
