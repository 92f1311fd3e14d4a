using System.Diagnostics;
using System.Net;
using Router.LoadTest.Sink;
using Router.Protocol;
using Router.Protocol.Client;

namespace Router.LoadTest.Generator;

/// <summary>
/// Drives SMTP load with the outbound client: N connections, each reusing its session for many
/// messages, round-robin over the targets, closed loop (as fast as replies come) or open loop
/// at a fixed rate. Bounded by a message count and/or a duration; stops by itself.
/// </summary>
public sealed class LoadGenerator
{
    private const int MaxConsecutiveConnectFailures = 5;

    private readonly LoadGeneratorOptions _options;
    private readonly RecipientPicker _recipients;
    private readonly LatencyHistogram _latency = new();
    private readonly string _runId = Guid.NewGuid().ToString("N")[..12];
    private long _started;
    private long _ended;
    private long _claimed;
    private long _sent;
    private long _accepted;
    private long _tempFailed;
    private long _permFailed;
    private long _aborted;
    private long _connectionErrors;
    private long _rcptAccepted;
    private long _rcptTempFailed;
    private long _rcptPermFailed;
    private long _bytes;
    private long _nextTarget = -1;
    private string? _lastError;

    public LoadGenerator(LoadGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Targets.Count == 0) throw new ArgumentException("At least one target is needed.", nameof(options));
        if (options.Connections < 1) throw new ArgumentException("Connections must be at least 1.", nameof(options));
        if (options.RecipientsPerMessage < 1) throw new ArgumentException("Recipients per message must be at least 1.", nameof(options));
        if (options.Rate is <= 0) throw new ArgumentException("Rate must be positive.", nameof(options));
        _options = options;
        _recipients = new RecipientPicker(options);
    }

    /// <summary>True once the duration is over: no new message starts, those in flight finish.</summary>
    private bool Expired => _options.Duration is { } d && Stopwatch.GetElapsedTime(_started) >= d;

    private long MessageLimit => _options.Messages ?? (_options.Duration is null ? 1000 : long.MaxValue);

    public LoadProgress Progress => new(
        Interlocked.Read(ref _sent),
        Interlocked.Read(ref _accepted),
        Interlocked.Read(ref _tempFailed) + Interlocked.Read(ref _permFailed) + Interlocked.Read(ref _aborted),
        Interlocked.Read(ref _connectionErrors),
        _started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_started));

    /// <summary>
    /// Probes every target (connect, greeting, EHLO, QUIT), then runs the load. Cancelling stops
    /// early and still returns the report of what was done.
    /// </summary>
    /// <exception cref="TargetUnavailableException">A target did not answer or is not an SMTP server.</exception>
    public async Task<LoadReport> RunAsync(CancellationToken ct = default)
    {
        foreach (var target in _options.Targets.Distinct()) await ProbeAsync(target, ct);

        _started = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, _options.Connections).Select(i => Task.Run(() => WorkerAsync(i, ct), CancellationToken.None));
        await Task.WhenAll(workers);
        return Report(Stopwatch.GetElapsedTime(_started, Volatile.Read(ref _ended)));
    }

    private async Task ProbeAsync(IPEndPoint target, CancellationToken ct)
    {
        try
        {
            await using var connection = await SmtpClientConnection.ConnectAsync(target, ClientOptions(), ct);
            var ehlo = await connection.EhloAsync(ct);
            if (!ehlo.IsPositive) throw new TargetUnavailableException(target, $"{target} refused EHLO/HELO: {ehlo}");
            await connection.QuitAsync(ct);
        }
        catch (SmtpClientException e)
        {
            var why = e.Kind switch
            {
                SmtpClientErrorKind.ConnectFailed => "does not answer",
                SmtpClientErrorKind.Timeout => "did not greet in time (is it an SMTP server?)",
                SmtpClientErrorKind.MalformedReply or SmtpClientErrorKind.ProtocolViolation => "does not speak SMTP",
                SmtpClientErrorKind.GreetingRejected => "refuses service",
                _ => "failed",
            };
            throw new TargetUnavailableException(target, $"{target} {why}: {e.Message}", e);
        }
    }

    private async Task WorkerAsync(int worker, CancellationToken ct)
    {
        var factory = new MessageFactory(_runId);
        var random = new Random(worker);
        var recipients = new string[_options.RecipientsPerMessage];
        SmtpClientConnection? connection = null;
        var failures = 0;
        try
        {
            // No message starts once the duration is over, not even an open loop's slot that fell behind.
            while (!ct.IsCancellationRequested && !Expired)
            {
                var sequence = Interlocked.Increment(ref _claimed);
                if (sequence > MessageLimit) break;
                if (_options.Rate is { } rate && !await WaitForSlotAsync(sequence, rate, ct)) break;

                while (connection is not { IsUsable: true })
                {
                    if (connection is not null) await connection.DisposeAsync();
                    connection = await OpenAsync(ct);
                    if (connection is not null) failures = 0;
                    else if (++failures >= MaxConsecutiveConnectFailures || ct.IsCancellationRequested || Expired) return;
                    else await BackoffAsync(failures, ct);
                }

                for (var i = 0; i < recipients.Length; i++) recipients[i] = _recipients.Next();
                var message = factory.Create(sequence, _options.From, recipients, _options.Size.Next(random));
                await SendOneAsync(connection, new SmtpEnvelope(_options.From, recipients), message, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The run was cancelled: stop where we are.
        }
        finally
        {
            // The run ends with its last message: a slow QUIT is not part of it, and does not matter.
            SinkCounters.RaisePeak(ref _ended, Stopwatch.GetTimestamp());
            if (connection is not null) await connection.CloseAsync(TimeSpan.FromSeconds(5));
        }
    }

    private async Task SendOneAsync(SmtpClientConnection connection, SmtpEnvelope envelope, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        Interlocked.Increment(ref _sent);
        var start = Stopwatch.GetTimestamp();
        TransactionResult result;
        try
        {
            result = await connection.SendAsync(envelope, message, ct);
        }
        catch (SmtpClientException e)
        {
            Interlocked.Increment(ref _aborted);
            ConnectionError(e);
            return;
        }
        catch (OperationCanceledException)
        {
            // Cut short by the end of the run: neither accepted nor refused.
            Interlocked.Increment(ref _aborted);
            throw;
        }
        _latency.Record((long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);

        foreach (var reply in result.RecipientReplies)
        {
            if (result.Status == TransactionStatus.MailRejected) break;
            Interlocked.Increment(ref reply.IsPositive ? ref _rcptAccepted : ref reply.IsTransient ? ref _rcptTempFailed : ref _rcptPermFailed);
        }
        if (result.Delivered)
        {
            Interlocked.Increment(ref _accepted);
            Interlocked.Add(ref _bytes, message.Length);
            return;
        }
        var refusal = Refusal(result);
        Interlocked.Increment(ref refusal.IsTransient ? ref _tempFailed : ref _permFailed);
    }

    /// <summary>The reply that refused a message that was not delivered: MAIL's, DATA's, or the "best" RCPT refusal (4xx beats 5xx).</summary>
    private static SmtpReply Refusal(TransactionResult result)
    {
        if (result.LocalReply is not null) return result.LocalReply;
        if (result.MailReply is { IsPositive: false } mail) return mail;
        if (result.DataReply is not null) return result.DataReply;
        return result.RecipientReplies.FirstOrDefault(r => r.IsTransient) ?? result.RecipientReplies.First(r => !r.IsPositive);
    }

    private async Task<SmtpClientConnection?> OpenAsync(CancellationToken ct)
    {
        var targets = _options.Targets;
        var target = targets[(int)(Interlocked.Increment(ref _nextTarget) % targets.Count)];
        SmtpClientConnection? connection = null;
        try
        {
            connection = await SmtpClientConnection.ConnectAsync(target, ClientOptions(), ct);
            var ehlo = await connection.EhloAsync(ct);
            if (ehlo.IsPositive && _options.StartTls)
            {
                // A load test trusts whatever certificate the server under test presents (often self-signed).
#pragma warning disable CA5359
                ehlo = await connection.StartTlsAsync(target.Address.ToString(), (_, _, _, _) => true, ct);
#pragma warning restore CA5359
            }
            if (ehlo.IsPositive && _options.AuthUser is { } user)
            {
                var mechanism = connection.Capabilities.AuthMechanisms.Contains("PLAIN") || !connection.Capabilities.AuthMechanisms.Contains("LOGIN")
                    ? SmtpAuthMechanism.Plain
                    : SmtpAuthMechanism.Login;
                ehlo = await connection.AuthenticateAsync(user, _options.AuthPassword ?? "", mechanism, ct);
            }
            if (!ehlo.IsPositive)
            {
                ConnectionError(target + " refused the session: " + ehlo);
                await connection.DisposeAsync();
                return null;
            }
            return connection;
        }
        catch (SmtpClientException e)
        {
            ConnectionError(e);
            if (connection is not null) await connection.DisposeAsync();
            return null;
        }
        catch (OperationCanceledException)
        {
            if (connection is not null) await connection.DisposeAsync();
            throw;
        }
    }

    private SmtpClientOptions ClientOptions() => new()
    {
        LocalHostName = _options.HeloName,
        UsePipelining = _options.Pipelining,
        ConnectTimeout = _options.Timeout,
        GreetingTimeout = _options.Timeout,
        CommandTimeout = _options.Timeout,
        MailTimeout = _options.Timeout,
        RcptTimeout = _options.Timeout,
        DataInitTimeout = _options.Timeout,
        DataBlockTimeout = _options.Timeout,
        DataTerminationTimeout = _options.Timeout,
    };

    /// <summary>Open loop: message n starts at start + (n-1)/rate, however long earlier ones took. False when the run ends first.</summary>
    private async Task<bool> WaitForSlotAsync(long sequence, double rate, CancellationToken ct)
    {
        var slot = TimeSpan.FromSeconds((sequence - 1) / rate);
        if (_options.Duration is { } duration && slot >= duration) return false;
        var due = slot - Stopwatch.GetElapsedTime(_started);
        if (due <= TimeSpan.Zero) return true;
        try
        {
            await Task.Delay(due, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static Task BackoffAsync(int failures, CancellationToken ct)
        => Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 50 << failures)), ct);

    private void ConnectionError(SmtpClientException e) => ConnectionError(e.Message);

    private void ConnectionError(string message)
    {
        Interlocked.Increment(ref _connectionErrors);
        Volatile.Write(ref _lastError, message);
    }

    private LoadReport Report(TimeSpan elapsed)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        return new LoadReport
        {
            Sent = _sent,
            Accepted = _accepted,
            TempFailed = _tempFailed,
            PermFailed = _permFailed,
            Aborted = _aborted,
            ConnectionErrors = _connectionErrors,
            RecipientsAccepted = _rcptAccepted,
            RecipientsTempFailed = _rcptTempFailed,
            RecipientsPermFailed = _rcptPermFailed,
            BytesAccepted = _bytes,
            ElapsedSeconds = elapsed.TotalSeconds,
            MessagesPerSecond = _sent / seconds,
            MegabytesPerSecond = _bytes / seconds / 1_000_000,
            LatencyP50Ms = _latency.PercentileMilliseconds(0.50),
            LatencyP90Ms = _latency.PercentileMilliseconds(0.90),
            LatencyP99Ms = _latency.PercentileMilliseconds(0.99),
            LatencyMaxMs = _latency.MaxMilliseconds,
            LastError = _lastError,
        };
    }
}
