using System.Net;
using System.Net.Sockets;
using Akka.Event;
using Router.Actors.Configuration;
using Router.Actors.Security;
using Router.Protocol;
using Router.Protocol.Client;
using Router.Protocol.Sasl;

namespace Router.Actors.Delivery;

/// <summary>
/// One delivery attempt of one queued message to its domain (RFC 5321 s5.1, s4.5.4.1): resolve
/// the MX hosts, take a pooled connection or open one (each address of each host in turn, with
/// opportunistic or required STARTTLS per RFC 3207/7435, then AUTH per RFC 4954 at a next hop
/// with credentials), send the pending recipients in transactions of at most N recipients, and
/// turn every reply into a per-recipient result (a delivered one records whether the server
/// offered DSN).
/// Connection-level failures move on to the next host, each logged in Postfix's words
/// ("<id>: connect to mx1.example[192.0.2.1]:25: Connection refused"); when no host works, the
/// recipients are deferred with the last error, or fail with the last host's 5xx to HELO.
/// </summary>
public sealed class DeliveryAttempt(DeliverySettings settings, string hostname, IMxResolver resolver, ConnectionPool pool, RelayCredentials? credentials = null, ILoggingAdapter? log = null)
{
    private readonly RelayCredentials _credentials = credentials ?? RelayCredentials.None;

    private readonly SmtpClientOptions _options = new()
    {
        LocalHostName = hostname,
        ConnectTimeout = settings.ConnectTimeout,
        GreetingTimeout = settings.CommandTimeout,
        CommandTimeout = settings.CommandTimeout,
        MailTimeout = settings.CommandTimeout,
        RcptTimeout = settings.CommandTimeout,
        DataInitTimeout = settings.CommandTimeout,
        DataBlockTimeout = settings.CommandTimeout,
        DataTerminationTimeout = settings.DataTimeout,
    };

    public async Task<RecipientResult[]> RunAsync(QueuedMessage message, int[] recipients, byte[] content, CancellationToken ct)
    {
        var resolution = await resolver.ResolveAsync(message.Domain, ct).ConfigureAwait(false);
        switch (resolution)
        {
            case MxResolution.NullMx:
                return All(recipients, new SmtpReply(556, "5.1.10", $"Domain {message.Domain} does not accept mail (null MX)"));
            case MxResolution.NoSuchDomain:
                return All(recipients, new SmtpReply(550, "5.1.2", $"Host or domain name not found: {message.Domain}"));
            case MxResolution.NoRoute none:
                return All(recipients, new SmtpReply(550, "5.4.4", $"Host or domain name not found: {none.Reason}"));
            case MxResolution.LoopsBack:
                return All(recipients, LoopsBack(message.Domain));
            case MxResolution.TemporaryFailure temporary:
                return All(recipients, new SmtpReply(451, "4.4.3", $"DNS lookup for {message.Domain} failed: {temporary.Reason}"));
        }

        var hosts = ((MxResolution.Resolved)resolution).Hosts;
        var results = new List<RecipientResult>(recipients.Length);
        // Each recipient still open, with the latest temporary outcome it met (a 4xx from a server, or its host's failure).
        var latest = new Dictionary<int, RecipientResult>(recipients.Length);
        var remaining = recipients;
        foreach (var host in hosts)
        {
            (remaining, var loops) = await TryHostAsync(host, message, remaining, content, results, latest, ct).ConfigureAwait(false);
            if (remaining.Length == 0) break;
            if (loops)
            {
                // The host answered EHLO with our own name: it is this router (or one that calls
                // itself so), and hosts of worse preference come after it (RFC 5321 s5.1). As the
                // best host that is a loop; behind better hosts that failed, a later retry. A
                // connection reached it, so the log names it (relay=).
                if (host == hosts[0]) return [.. results, .. remaining.Select(i => RecipientResult.From(i, LoopsBack(message.Domain), null, relay: host.Name))];
                break;
            }
        }
        results.AddRange(remaining.Select(i => latest[i]));
        return [.. results];
    }

    /// <summary>
    /// Sends to one host. Final outcomes (2xx, 5xx) go to <paramref name="results"/>; a recipient
    /// deferred here (a 4xx to MAIL, its RCPT, DATA or the final dot, or a failure of the host)
    /// stays open for the next MX host, as Postfix's smtp client does, with that outcome in
    /// <paramref name="latest"/>; so does one whose host refused HELO with a 5xx, which is final
    /// only when no later host changes it. Returns the recipients still open and whether the host
    /// is ourselves.
    /// </summary>
    private async Task<(int[] Open, bool Loops)> TryHostAsync(MxHost host, QueuedMessage message, int[] recipients, byte[] content, List<RecipientResult> results, Dictionary<int, RecipientResult> latest, CancellationToken ct)
    {
        var login = _credentials.For(host.Name, host.Port);
        var policy = settings.TlsPolicyFor(message.Domain, host.Name, host.Port, authenticating: login is not null);
        var nextHop = NextHop.Key(host.Name, host.Port);
        var unsent = recipients;
        var deferred = new List<int>();
        // SMTPUTF8 only when something needs it (RFC 6531 s3.4): UTF-8 in a header or an address.
        // A client may flag an all-ASCII message; a peer without SMTPUTF8 can still take that one.
        var smtpUtf8 = message.SmtpUtf8 && !System.Text.Ascii.IsValid(HeaderSection.Of(content));
        // One log line per host that could not take the mail (Postfix logs each at info level).
        // reached: a connection was made, so the log names the host (Postfix's relay=), not "none".
        (int[], bool) Failed(SmtpReply error, bool reached, string? why = null, Trouble trouble = Trouble.None)
        {
            log?.Info("{0}: {1}", message.QueueId, why ?? error.Text);
            // A refused session is the server's own reply: a bounce names it as the Remote-MTA.
            foreach (var i in unsent) latest[i] = trouble == Trouble.Refused ? RecipientResult.From(i, error, host.Name) : RecipientResult.From(i, error, null, relay: reached ? host.Name : null);
            return ([.. deferred, .. unsent], trouble == Trouble.Loops);
        }

        // A pooled connection may have been closed by the peer meanwhile (the socket, or a 421
        // it sent while idle, read as the reply to MAIL): then try once afresh.
        for (var fresh = 0; fresh < 2; fresh++)
        {
            // Only a connection authenticated as this next hop's user (or not at all, without one) is reused.
            var pooled = fresh == 0 ? pool.TryTake(nextHop, login?.User) : null;
            SmtpClientConnection? connection = pooled;
            if (connection is null)
            {
                var (opened, failure) = await OpenAsync(host, policy, login, ct).ConfigureAwait(false);
                if (opened is null) return Failed(failure!.Error, reached: failure.Trouble != Trouble.NoConnection, failure.Why, failure.Trouble);
                connection = opened;
            }
            try
            {
                // RFC 6152 s3: 8-bit content goes only to a peer offering 8BITMIME, else converted to 7 bit.
                var eightBit = message.EightBitMime && connection.Capabilities.EightBitMime;
                var body = message.EightBitMime && !eightBit ? SevenBitDowngrade.Apply(content) : content;
                var stale = false;
                foreach (var chunk in unsent.Chunk(settings.MaxRecipientsPerTransaction))
                {
                    var envelope = new SmtpEnvelope(message.Sender ?? "", chunk.Select(i => message.Recipients[i].Address).ToArray())
                    {
                        SmtpUtf8 = smtpUtf8,
                        EightBitMime = eightBit,
                        Size = body.Length,
                        EnvelopeId = message.EnvelopeId,
                        Return = message.Return(),
                        RecipientDsn = connection.Capabilities.Dsn
                            ? chunk.Select(i => new RecipientDsn(message.Recipients[i].Notify, message.Recipients[i].OriginalRecipient)).ToArray()
                            : null,
                    };
                    var sent = await connection.SendAsync(envelope, body, ct).ConfigureAwait(false);
                    // A 421 on a reused connection before any recipient of the transaction was
                    // accepted (RFC 5321 s3.8): the server closed the idle session (its timeout)
                    // rather than refused this message, and took none of it; a fresh connection
                    // carries it. A fresh connection's own 421 defers as any other.
                    stale = pooled is not null && sent.ClosedBeforeAnyRecipient;
                    if (stale) break;
                    for (var k = 0; k < chunk.Length; k++)
                    {
                        // A refusal of our own (SIZE over the peer's limit, SMTPUTF8 not offered) names no
                        // remote MTA, only the host it was met at. Who offered DSN took over NOTIFY; who
                        // did not leaves a NOTIFY=SUCCESS to us (RFC 3461 s5.2.2).
                        var result = sent.LocalReply is null
                            ? RecipientResult.From(chunk[k], sent.OutcomeFor(k), host.Name, connection.Capabilities.Dsn)
                            : RecipientResult.From(chunk[k], sent.OutcomeFor(k), null, relay: host.Name);
                        if (result.Outcome != RecipientOutcome.Deferred)
                        {
                            results.Add(result);
                            continue;
                        }
                        latest[chunk[k]] = result;
                        deferred.Add(chunk[k]);
                    }
                    unsent = unsent[chunk.Length..];
                    if (sent.Status == TransactionStatus.ServiceClosing) break;
                }
                if (stale)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    continue;
                }
                pool.Return(nextHop, connection);
                return unsent.Length == 0 ? ([.. deferred], false) : Failed(new SmtpReply(421, "4.4.2", $"{host.Name} closed the connection"), reached: true);
            }
            catch (SmtpClientException e)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                if (pooled is not null && e.Kind is SmtpClientErrorKind.ConnectionClosed or SmtpClientErrorKind.NotUsable) continue;
                // Never the reply the exception carries: that is one the dialogue could not go on
                // from (a 354 to MAIL, a 250 to DATA), and the message was not delivered.
                return Failed(new SmtpReply(451, "4.4.2", $"{host.Name}: {e.Message}"), reached: true);
            }
        }
        return Failed(new SmtpReply(451, "4.4.2", $"{host.Name}: connection lost"), reached: true);
    }

    /// <summary>
    /// Why a host could not be used: the reply its recipients get, what went wrong beyond that
    /// (<see cref="Trouble"/>), and the log line's words where they are not the reply's text
    /// (Postfix's "connect to ...", "host ... refused to talk to me: ...").
    /// </summary>
    private sealed record HostFailure(SmtpReply Error, Trouble Trouble, string? Why = null);

    /// <summary>A connection to one of the host's addresses, or why the last address failed.</summary>
    private async Task<(SmtpClientConnection? Connection, HostFailure? Failure)> OpenAsync(MxHost host, string tlsPolicy, SaslCredentials? login, CancellationToken ct)
    {
        var last = new HostFailure(new SmtpReply(451, "4.4.1", $"{host.Name}: no address could be reached"), Trouble.NoConnection);
        foreach (var address in host.Addresses)
        {
            var (connection, failure) = await OpenAtAsync(host, address, tlsPolicy, login, ct).ConfigureAwait(false);
            // RFC 7435: opportunistic TLS whose handshake fails is retried in plaintext (as Postfix
            // does) instead of deferring the mail for as long as the peer's TLS stays broken; not
            // with credentials, which are never sent in plaintext.
            if (failure?.Trouble == Trouble.TlsBroke && tlsPolicy == "opportunistic" && login is null) (connection, failure) = await OpenAtAsync(host, address, "off", null, ct).ConfigureAwait(false);
            if (connection is not null || failure!.Trouble == Trouble.Loops) return (connection, failure);
            last = failure;
        }
        return (null, last);
    }

    /// <summary>
    /// What went wrong beyond the error reply: no connection was made, the TLS handshake, the
    /// host is this router, or it refused the session with a 5xx to HELO (or to EHLO, when HELO
    /// did not follow).
    /// </summary>
    private enum Trouble
    {
        None,
        NoConnection,
        TlsBroke,
        Loops,
        Refused,
    }

    /// <summary>Connects to one address of a host: greeting, EHLO, STARTTLS as the policy says, and AUTH with <paramref name="login"/> if any.</summary>
    private async Task<(SmtpClientConnection? Connection, HostFailure? Failure)> OpenAtAsync(MxHost host, IPAddress address, string tlsPolicy, SaslCredentials? login, CancellationToken ct)
    {
        var server = $"{host.Name}[{address}]";
        SmtpClientConnection? connection = null;
        try
        {
            connection = await SmtpClientConnection.ConnectAsync(new IPEndPoint(address, host.Port), _options, ct).ConfigureAwait(false);
            pool.CountOpened();
            var ehlo = await connection.EhloAsync(ct).ConfigureAwait(false);
            if (!ehlo.IsPositive)
            {
                var command = connection.SaidHelo ? "HELO" : "EHLO";
                await connection.DisposeAsync().ConfigureAwait(false);
                var why = $"host {server} refused to talk to me: {ehlo} (in reply to {command} command)";
                // RFC 5321 s4.1.4: a 5xx to EHLO is followed by HELO, so a 5xx here refuses the
                // session itself (Postfix: "refused to talk to me"): the next host is tried, and
                // at the last one the recipients fail with the server's reply. A 5xx banner stays
                // soft (below), as with Postfix's smtp_skip_5xx_greeting.
                return ehlo.IsPermanent
                    ? (null, new HostFailure(ehlo, Trouble.Refused, why))
                    : (null, new HostFailure(new SmtpReply(ehlo.Code, ehlo.Enhanced, $"{host.Name} refused {command}: {ehlo}"), Trouble.None, why));
            }
            if (GreetsAsUs(ehlo))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                // RFC 3463 X.4.6: routing loop detected.
                return (null, new HostFailure(new SmtpReply(451, "4.4.6", $"{host.Name} [{address}] replied to EHLO with my own hostname {hostname}"), Trouble.Loops));
            }
            SmtpReply? tlsRefused = null;
            if (tlsPolicy != "off" && connection.Capabilities.StartTls)
            {
                // RFC 7435 opportunistic security: encrypt, but accept any certificate unless required.
#pragma warning disable CA5359 // RFC 7435: opportunistic TLS encrypts without authenticating; "require" validates.
                var tls = await connection.StartTlsAsync(host.Name, tlsPolicy == "require" ? null : AcceptAnyCertificate, ct).ConfigureAwait(false);
#pragma warning restore CA5359
                if (!tls.IsPositive && tlsPolicy == "require") throw new SmtpClientException(SmtpClientErrorKind.TlsFailed, $"{host.Name} refused STARTTLS: {tls}", tls);
                if (!tls.IsPositive) tlsRefused = tls;
            }
            else if (tlsPolicy == "require" && login is null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                return (null, new HostFailure(new SmtpReply(451, "4.7.5", $"{host.Name} does not offer STARTTLS, which policy requires"), Trouble.None));
            }
            if (login is not null && await AuthenticateAsync(connection, host, address, tlsPolicy, tlsRefused, login, ct).ConfigureAwait(false) is { } refused)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                return (null, new HostFailure(refused, Trouble.None));
            }
            return (connection, null);
        }
        catch (SmtpClientException e)
        {
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            if (e.Reply is { IsPositive: false } reply && e.Kind == SmtpClientErrorKind.GreetingRejected)
            {
                // A 5xx banner is soft (Postfix's smtp_skip_5xx_greeting): the next host, or a later attempt.
                var soft = new SmtpReply(reply.IsPermanent ? 451 : reply.Code, reply.IsPermanent ? "4.4.2" : reply.Enhanced, $"{host.Name}: {reply}");
                return (null, new HostFailure(soft, Trouble.None, $"host {server} refused to talk to me: {reply}"));
            }
            // RFC 3463 X.7.5: a certificate that does not pass, or a refused STARTTLS, is a security failure, not "no answer".
            var error = new SmtpReply(451, e.Kind == SmtpClientErrorKind.TlsFailed ? "4.7.5" : "4.4.1", $"{host.Name} [{address}]: {e.Message}");
            if (e.Kind != SmtpClientErrorKind.ConnectFailed) return (null, new HostFailure(error, e.Kind == SmtpClientErrorKind.TlsFailed ? Trouble.TlsBroke : Trouble.None));
            // Postfix's words and the system's reason; a connect that timed out has no socket error.
            var reason = e.InnerException is SocketException socket ? socket.Message : "Connection timed out";
            return (null, new HostFailure(error, Trouble.NoConnection, $"connect to {server}:{host.Port}: {reason}"));
        }
    }

    /// <summary>
    /// AUTH (RFC 4954) at a next hop with credentials, on an encrypted connection only: PLAIN when
    /// offered, else LOGIN. Null once authenticated, else why not, as a deferral (Postfix's "SASL
    /// authentication failed"): a wrong password or an account the provider locked is the
    /// operator's to fix, and the mail waits for it in the queue rather than bounce.
    /// </summary>
    private static async Task<SmtpReply?> AuthenticateAsync(SmtpClientConnection connection, MxHost host, IPAddress address, string tlsPolicy, SmtpReply? tlsRefused, SaslCredentials login, CancellationToken ct)
    {
        var server = $"{host.Name}[{address}]";
        if (!connection.IsEncrypted)
        {
            // RFC 3463 X.7.4: security features not supported. The password is never sent in clear.
            var why = tlsPolicy == "off" ? $"router.delivery.tls-policy turns TLS off for {server}"
                : tlsRefused is not null ? $"{server} refused STARTTLS: {tlsRefused}"
                : $"{server} does not offer STARTTLS";
            return new SmtpReply(451, "4.7.4", $"TLS is required for SASL authentication, but {why}");
        }
        if (connection.Capabilities.PreferredAuthMechanism is not { } mechanism)
        {
            var offered = connection.Capabilities.Auth ? $"offered: {string.Join(' ', connection.Capabilities.AuthMechanisms)}" : "it offers no AUTH";
            return new SmtpReply(451, "4.7.0", $"SASL authentication failed; cannot authenticate to server {server}: no mechanism available ({offered})");
        }
        var reply = await connection.AuthenticateAsync(login.User, login.Password, mechanism, ct).ConfigureAwait(false);
        return reply.Code == 235
            ? null
            : new SmtpReply(451, "4.7.0", $"SASL authentication failed; server {server} said: {reply}");
    }

    private static SmtpReply LoopsBack(string domain) => new(554, "5.4.6", $"mail for {domain} loops back to myself");

    /// <summary>The first word of an EHLO (or HELO) reply is the server's name (RFC 5321 s4.1.1.1).</summary>
    private bool GreetsAsUs(SmtpReply ehlo)
    {
        var first = ehlo.Lines[0].AsSpan().Trim();
        var end = first.IndexOf(' ');
        return (end < 0 ? first : first[..end]).Equals(hostname, StringComparison.OrdinalIgnoreCase);
    }

    private static bool AcceptAnyCertificate(object sender, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, System.Security.Cryptography.X509Certificates.X509Chain? chain, System.Net.Security.SslPolicyErrors errors) => true;

    private static RecipientResult[] All(IEnumerable<int> recipients, SmtpReply reply) =>
        recipients.Select(i => RecipientResult.From(i, reply, null)).ToArray();
}
