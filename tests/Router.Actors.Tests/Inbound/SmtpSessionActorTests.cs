using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Router.Actors.Configuration;
using Router.Actors.Mailbox;
using Router.Actors.Routing;
using Router.Actors.Smtp;

namespace Router.Actors.Tests.Inbound;

/// <summary>
/// The session actor over a real loopback socket, with a probe standing in for the mailbox
/// region: the client's 250 waits for the owner's Durable; Failed or silence past the
/// delivery-ack-timeout become 451 4.3.0. On shutdown, a message waiting for its owners gets
/// its answer even past the grace; a transaction still being received does not.
/// </summary>
public sealed class SmtpSessionActorTests : TestKit
{
    private static readonly byte[] Message = Encoding.ASCII.GetBytes("Subject: probe\r\n\r\nhello\r\n");
    private IActorRef _session = ActorRefs.Nobody;

    [Fact]
    public async Task Client_gets_250_only_after_the_owner_replies_durable()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendTransactionAsync();

        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        Assert.Equal("alice@example.test", deliver.Mailbox);
        Assert.Equal("a@remote.test", deliver.ReturnPath);
        Assert.Equal(Message, deliver.Body.ToArray());
        Assert.StartsWith("Received: from client.test ([127.0.0.1])", Encoding.ASCII.GetString(deliver.Trace), StringComparison.Ordinal);
        // The owner has not answered: the client must not have its 250 yet.
        Assert.Null(await client.TryReadLineAsync(TimeSpan.FromMilliseconds(300)));

        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));

        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failed_owner_reply_is_451_4_3_0()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendTransactionAsync();

        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        probe.Reply(new OwnerReply.Failed(deliver.TransactionId, deliver.Mailbox, "disk on fire"));

        Assert.StartsWith("451 4.3.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        // The session goes on: the client may retry.
        await client.SendAsync("NOOP\r\n");
        Assert.StartsWith("250 ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_owner_reply_within_the_ack_timeout_is_451_4_3_0()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromMilliseconds(500));
        await client.SendTransactionAsync();

        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        Assert.StartsWith("451 4.3.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);

        // A Durable that arrives after the timeout changes nothing.
        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
        await client.SendAsync("NOOP\r\n");
        Assert.StartsWith("250 2.0.0 OK", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Owners_of_a_large_message_get_a_second_more_per_10_MB_they_write()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromMilliseconds(500));
        var line = new string('x', 998) + "\r\n";
        var body = Encoding.ASCII.GetBytes("Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(line, 24_000))); // 24 MB: 0.5 + 2.4 s
        await client.SendTransactionAsync(body);

        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        Assert.Equal(body.Length, deliver.Body.Length);
        // Past the 500 ms of delivery-ack-timeout the client still waits: no 451 yet. The 1.9 s
        // left to the scaled deadline absorb a slow hand-over of the Deliver on a busy machine.
        Assert.Null(await client.TryReadLineAsync(TimeSpan.FromSeconds(1)));

        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Past_the_shutdown_grace_a_message_waiting_for_its_owners_gets_its_answer_then_421()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendTransactionAsync();
        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));

        _session.Tell(SmtpSessionActor.Drain.Instance);
        _session.Tell(SmtpSessionActor.GraceOver.Instance);
        Assert.Null(await client.TryReadLineAsync(TimeSpan.FromMilliseconds(300)));
        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));

        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("421 4.3.2 ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Past_the_shutdown_grace_a_transaction_still_being_received_gets_421()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendAsync("EHLO client.test\r\nMAIL FROM:<a@remote.test>\r\n");
        string line;
        do line = await client.ReadLineAsync();
        while (!line.StartsWith("250 2.1.0", StringComparison.Ordinal));

        // Draining lets the transaction go on...
        _session.Tell(SmtpSessionActor.Drain.Instance);
        Assert.Null(await client.TryReadLineAsync(TimeSpan.FromMilliseconds(300)));
        // ...until the grace is over.
        _session.Tell(SmtpSessionActor.GraceOver.Instance);
        Assert.StartsWith("421 4.3.2 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    /// <summary>The idle timeout of the slow-client tests: under their 4 s transfers, far above their 250 ms gaps.</summary>
    private static readonly TimeSpan SlowIdleTimeout = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Slow_but_steady_DATA_body_is_not_cut_off_by_the_idle_timeout()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), idleTimeout: SlowIdleTimeout);
        await client.StartDataAsync();

        // 4 s of body in all, more than the idle timeout, but never more than 250 ms between receives
        // (a loaded machine may stretch a gap several times over: the timeout leaves room for that).
        await client.SendAsync("Subject: slow\r\n\r\n");
        for (var i = 0; i < 16; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250));
            await client.SendAsync($"line {i}\r\n");
        }
        await client.SendAsync(".\r\n");

        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slow_but_steady_BDAT_chunk_is_not_cut_off_by_the_idle_timeout()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), idleTimeout: SlowIdleTimeout);
        // Header fields, so the message is taken as it is (one without them gets an empty line before it).
        var piece = "X-Pad: " + new string('x', 71) + "\r\n";
        await client.SendEnvelopeAsync();
        await client.SendAsync($"BDAT {16 * piece.Length} LAST\r\n");
        for (var i = 0; i < 16; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250));
            await client.SendAsync(piece);
        }

        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        Assert.Equal(16 * piece.Length, deliver.Body.Length);
        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_silent_in_the_middle_of_DATA_gets_421_after_the_idle_timeout()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), idleTimeout: TimeSpan.FromSeconds(1));
        await client.StartDataAsync();
        await client.SendAsync("Subject: half\r\n\r\nand then nothing");

        Assert.StartsWith("421 4.4.2 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Error_count_starts_again_after_an_accepted_message()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), maxErrors: 3);
        await client.SendAsync("EHLO client.test\r\n");
        await client.ReadReplyAsync();

        // Two unknown recipients per message: four errors in all, one under max-errors per message.
        for (var message = 0; message < 2; message++)
        {
            await client.SendAsync("MAIL FROM:<a@remote.test>\r\n");
            Assert.StartsWith("250 2.1.0", await client.ReadLineAsync(), StringComparison.Ordinal);
            foreach (var unknown in new[] { "nobody1", "nobody2" })
            {
                await client.SendAsync($"RCPT TO:<{unknown}@example.test>\r\n");
                Assert.StartsWith("550 5.1.1", await client.ReadLineAsync(), StringComparison.Ordinal);
            }
            await client.SendAsync("RCPT TO:<alice@example.test>\r\nDATA\r\n");
            Assert.StartsWith("250 2.1.5", await client.ReadLineAsync(), StringComparison.Ordinal);
            Assert.StartsWith("354", await client.ReadLineAsync(), StringComparison.Ordinal);
            await client.SendAsync("Subject: probe\r\n\r\nhello\r\n.\r\n");
            var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
            probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
            Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Errors_without_an_accepted_message_still_end_the_session()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), maxErrors: 3);
        await client.SendAsync("EHLO client.test\r\nMAIL FROM:<a@remote.test>\r\n");
        await client.ReadReplyAsync();
        Assert.StartsWith("250 2.1.0", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("RCPT TO:<nobody1@example.test>\r\nRCPT TO:<nobody2@example.test>\r\nRSET\r\nRCPT TO:<alice@example.test>\r\n");

        Assert.StartsWith("550 5.1.1", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("550 5.1.1", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal); // RSET forgives nothing
        Assert.StartsWith("503 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("421 4.7.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recipients_past_max_recipients_count_as_errors_only_after_1000_more_and_then_end_the_session()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), maxErrors: 3, maxRecipients: 2);
        await client.SendEnvelopeAsync();

        // The second recipient fills the transaction; the 1000 after it get 452 and are not counted
        // (Postfix's smtpd_recipient_overshoot_limit), the next two are: two errors of three.
        await client.SendAsync(string.Concat(Enumerable.Repeat("RCPT TO:<alice@example.test>\r\n", 1 + 1000 + 2)));
        Assert.StartsWith("250 2.1.5", await client.ReadLineAsync(), StringComparison.Ordinal);
        for (var i = 0; i < 1000 + 2; i++) Assert.StartsWith("452 4.5.3 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("NOOP\r\n");
        Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);

        await client.SendAsync("RCPT TO:<alice@example.test>\r\n");
        Assert.StartsWith("452 4.5.3 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("421 4.7.0 Too many errors", await client.ReadLineAsync(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<IOException>(client.ReadLineAsync);
    }

    [Fact]
    public async Task A_refused_BDAT_chunk_counts_as_one_error()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), maxErrors: 2);
        await client.SendAsync("EHLO client.test\r\n");
        await client.ReadReplyAsync();

        // BDAT before MAIL: its chunk is read and thrown away, and the 503 is one error of two.
        await client.SendAsync("BDAT 5\r\nhello");
        Assert.StartsWith("503 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("NOOP\r\n");
        Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RCPT_with_DSN_parameters_past_512_octets_is_accepted()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendAsync("EHLO client.test\r\nMAIL FROM:<a@remote.test> RET=HDRS ENVID=env1\r\n");
        await client.ReadReplyAsync();
        Assert.StartsWith("250 2.1.0", await client.ReadLineAsync(), StringComparison.Ordinal);

        // RFC 3461 s4: NOTIFY and ORCPT may add 500 octets to RCPT's 512.
        var original = new string('l', 64) + "@" + string.Join('.', Enumerable.Repeat(new string('d', 60), 6)) + ".example.net";
        var rcpt = $"RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;{original}\r\n";
        Assert.InRange(rcpt.Length, 513, 2048);
        await client.SendAsync(rcpt);
        Assert.StartsWith("250 2.1.5", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Command_line_past_2048_octets_is_500_5_5_2_and_the_session_goes_on()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendAsync("EHLO client.test\r\n");
        await client.ReadReplyAsync();

        await client.SendAsync("NOOP " + new string('x', 2048 - 5 - 2) + "\r\n");
        Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("NOOP " + new string('x', 2049 - 5 - 2) + "\r\nNOOP\r\n");
        Assert.StartsWith("500 5.5.2 Line too long", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task More_than_100_NOOP_RSET_VRFY_and_HELP_without_mail_get_421()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendAsync("EHLO client.test\r\n");
        await client.ReadReplyAsync();

        await client.SendAsync(string.Concat(Enumerable.Repeat("NOOP\r\nRSET\r\nVRFY someone\r\nHELP\r\n", 25)));
        for (var i = 0; i < 100; i++) Assert.True((await client.ReadReplyAsync())[^1][0] is '2', $"command {i + 1} refused");
        await client.SendAsync("NOOP\r\n");
        Assert.StartsWith("421 4.7.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<IOException>(client.ReadLineAsync);
    }

    [Fact]
    public async Task Empty_BDAT_chunks_count_as_junk_commands()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendEnvelopeAsync();

        await client.SendAsync(string.Concat(Enumerable.Repeat("BDAT 0\r\n", 100)));
        for (var i = 0; i < 100; i++) Assert.StartsWith("250 2.0.0 0 octets", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("BDAT 0\r\n");
        Assert.StartsWith("421 4.7.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Junk_command_count_starts_again_after_an_accepted_message()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30));
        await client.SendAsync(string.Concat(Enumerable.Repeat("NOOP\r\n", 90)));
        for (var i = 0; i < 90; i++) Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendTransactionAsync();
        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);

        await client.SendAsync(string.Concat(Enumerable.Repeat("NOOP\r\n", 90)));
        for (var i = 0; i < 90; i++) Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BDAT_chunk_that_crosses_the_size_limit_gets_552_and_the_rest_of_the_transaction_is_refused()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), maxMessageSize: 1000);
        await client.SendEnvelopeAsync();

        await client.SendAsync("BDAT 600\r\n" + new string('a', 600));
        Assert.StartsWith("250 2.0.0 600 octets", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("BDAT 600\r\n" + new string('b', 600));
        Assert.StartsWith("552 5.3.4 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        // Later chunks are read (the session stays in step) and refused, up to LAST.
        await client.SendAsync("BDAT 100\r\n" + new string('c', 100) + "BDAT 10 LAST\r\n" + new string('d', 10));
        Assert.StartsWith("551 5.0.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("551 5.0.0 ", await client.ReadLineAsync(), StringComparison.Ordinal);

        // The transaction is over: nothing was delivered, and a new one may start.
        await client.SendAsync("MAIL FROM:<a@remote.test>\r\n");
        Assert.StartsWith("250 2.1.0", await client.ReadLineAsync(), StringComparison.Ordinal);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task RSET_after_a_refused_BDAT_chunk_ends_the_refusal()
    {
        var probe = CreateTestProbe();
        await using var client = await StartSessionAsync(probe, TimeSpan.FromSeconds(30), maxMessageSize: 1000);
        await client.SendEnvelopeAsync();
        await client.SendAsync("BDAT 1001\r\n" + new string('a', 1001));
        Assert.StartsWith("552 5.3.4 ", await client.ReadLineAsync(), StringComparison.Ordinal);

        // One pipelined group: its replies may wait for the end of the message.
        await client.SendAsync("RSET\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT 12 LAST\r\nSubject: x\r\n");
        var deliver = probe.ExpectMsg<MailboxActor.Deliver>(TimeSpan.FromSeconds(10));
        Assert.Equal(12, deliver.Body.Length);
        probe.Reply(new OwnerReply.Durable(deliver.TransactionId, deliver.Mailbox));
        Assert.StartsWith("250 2.0.0", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.0", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadLineAsync(), StringComparison.Ordinal);
    }

    private async Task<LineClient> StartSessionAsync(TestProbe mailboxes, TimeSpan ackTimeout, TimeSpan? idleTimeout = null, int maxErrors = 10, long maxMessageSize = 25L * 1024 * 1024, int maxRecipients = 1000)
    {
        var settings = TestSettings.Minimal("mx.test") with
        {
            DeliveryAckTimeout = ackTimeout,
            IdleTimeout = idleTimeout ?? TimeSpan.FromSeconds(30),
            MaxErrors = maxErrors,
            MaxMessageSize = maxMessageSize,
            MaxRecipients = maxRecipients,
        };
        var services = new SmtpServices(settings, new RoutingPolicy(settings), new TrustedNetworks(settings.TrustedNetworks), mailboxes.Ref, ActorRefs.Nobody);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        var accept = listener.AcceptAsync();
        await tcp.ConnectAsync((IPEndPoint)listener.LocalEndPoint!);
        var server = await accept;
        _session = Sys.ActorOf(SmtpSessionActor.Props(server, services));

        var client = new LineClient(tcp);
        Assert.StartsWith("220 mx.test ", await client.ReadLineAsync(), StringComparison.Ordinal);
        return client;
    }

    /// <summary>The client side: exact bytes out, CRLF lines in, every read bounded.</summary>
    private sealed class LineClient(TcpClient tcp) : IAsyncDisposable
    {
        private readonly StreamReader _reader = new(tcp.GetStream(), Encoding.Latin1);
        private Task<string?>? _pending;

        public async Task SendAsync(string text) => await tcp.GetStream().WriteAsync(Encoding.Latin1.GetBytes(text));

        /// <summary>EHLO..DATA and the body (<see cref="Message"/> unless given), reading every reply up to the 354.</summary>
        public async Task SendTransactionAsync(byte[]? body = null)
        {
            await StartDataAsync();
            await tcp.GetStream().WriteAsync(body ?? Message);
            await tcp.GetStream().WriteAsync(".\r\n"u8.ToArray());
        }

        /// <summary>EHLO, MAIL and RCPT, reading their replies.</summary>
        public async Task SendEnvelopeAsync()
        {
            await SendAsync("EHLO client.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n");
            string? line;
            do line = await ReadLineAsync();
            while (line.StartsWith("250-", StringComparison.Ordinal));
            Assert.StartsWith("250 ", line, StringComparison.Ordinal); // EHLO's last line
            Assert.StartsWith("250 2.1.0", await ReadLineAsync(), StringComparison.Ordinal);
            Assert.StartsWith("250 2.1.5", await ReadLineAsync(), StringComparison.Ordinal);
        }

        /// <summary>The envelope, then DATA up to its 354.</summary>
        public async Task StartDataAsync()
        {
            await SendEnvelopeAsync();
            await SendAsync("DATA\r\n");
            Assert.StartsWith("354", await ReadLineAsync(), StringComparison.Ordinal);
        }

        /// <summary>The lines of one reply, up to its last line (the one without a hyphen).</summary>
        public async Task<IReadOnlyList<string>> ReadReplyAsync()
        {
            var lines = new List<string>();
            do lines.Add(await ReadLineAsync());
            while (lines[^1].Length > 3 && lines[^1][3] == '-');
            return lines;
        }

        public async Task<string> ReadLineAsync() =>
            await TryReadLineAsync(TimeSpan.FromSeconds(15)) ?? throw new TimeoutException("no reply line within 15 s");

        /// <summary>A line, or null when none arrived within <paramref name="wait"/> (the read stays pending for the next call).</summary>
        public async Task<string?> TryReadLineAsync(TimeSpan wait)
        {
            _pending ??= _reader.ReadLineAsync();
            var first = await Task.WhenAny(_pending, Task.Delay(wait));
            if (first != _pending) return null;
            var line = await _pending;
            _pending = null;
            return line ?? throw new IOException("connection closed");
        }

        public ValueTask DisposeAsync()
        {
            tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
