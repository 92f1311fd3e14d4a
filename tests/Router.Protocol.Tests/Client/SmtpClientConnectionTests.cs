using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Router.Protocol.Client;

namespace Router.Protocol.Tests.Client;

/// <summary>The outbound client against a real scripted server on a loopback port; each script reads as the dialogue.</summary>
public sealed class SmtpClientConnectionTests
{
    private static readonly SmtpClientOptions Options = WithTimeouts(TimeSpan.FromSeconds(10));

    private static readonly byte[] Message = "From: a@x.test\r\nTo: b@y.test\r\nSubject: hi\r\n\r\nhello\r\n"u8.ToArray();

    private static SmtpClientOptions WithTimeouts(TimeSpan t) => new()
    {
        LocalHostName = "client.test",
        ConnectTimeout = t,
        GreetingTimeout = t,
        CommandTimeout = t,
        MailTimeout = t,
        RcptTimeout = t,
        DataInitTimeout = t,
        DataBlockTimeout = t,
        DataTerminationTimeout = t,
    };

    /// <summary>A backstop so a broken test fails instead of hanging; each test gets a fresh instance.</summary>
    private readonly CancellationTokenSource _backstop = new(TimeSpan.FromSeconds(60));

    private CancellationToken Ct => _backstop.Token;

    /// <summary>Server side of greeting + EHLO, announcing <paramref name="extensions"/>.</summary>
    private static async Task GreetAsync(ScriptedSession s, params string[] extensions)
    {
        await s.SendAsync("220 mx.test ESMTP ready");
        await s.ExpectAsync("EHLO client.test");
        string[] lines = ["mx.test greets client.test", .. extensions];
        await s.SendAsync(lines.Select((l, i) => (i == lines.Length - 1 ? "250 " : "250-") + l).ToArray());
    }

    /// <summary>Server side of a pipelined MAIL, RCPT, DATA that accepts all three; returns the DATA content as sent.</summary>
    private static async Task<byte[]> AcceptPipelinedAsync(ScriptedSession s, string recipient = "b@y.test")
    {
        await s.ExpectAsync("MAIL FROM:<a@x.test>", $"RCPT TO:<{recipient}>", "DATA");
        await s.SendAsync("250 ok", "250 ok", "354 go");
        return await s.ReadDataAsync();
    }

    /// <summary>Server side of commands that must each come alone: nothing more may arrive before the command's reply.</summary>
    private static async Task ExchangeOneByOneAsync(ScriptedSession s, params (string Command, string Reply)[] steps)
    {
        foreach (var (command, reply) in steps)
        {
            await s.ExpectAsync(command);
            Assert.False(s.HasBufferedInput, $"client sent more before the reply to {command}");
            await s.SendAsync(reply);
        }
    }

    /// <summary>
    /// Plays <paramref name="script"/> as the server while <paramref name="client"/> drives a connection to it,
    /// which has said EHLO (asserting 250) unless <paramref name="ehlo"/> is false; then the server must complete.
    /// </summary>
    private async Task DialogAsync(Func<ScriptedSession, Task> script, Func<SmtpClientConnection, Task> client, SmtpClientOptions? options = null, bool ehlo = true)
    {
        await using var server = ScriptedSmtpServer.Start(script);
        await using (var connection = await SmtpClientConnection.ConnectAsync(server.EndPoint, options ?? Options, Ct))
        {
            if (ehlo) Assert.Equal(250, (await connection.EhloAsync(Ct)).Code);
            await client(connection);
        }
        await server.Completion;
    }

    /// <summary>Plays <paramref name="script"/> as the server; connecting to it must fail with <paramref name="kind"/>.</summary>
    private async Task<SmtpClientException> ConnectFailsAsync(Func<ScriptedSession, Task> script, SmtpClientErrorKind kind, SmtpClientOptions? options = null)
    {
        await using var server = ScriptedSmtpServer.Start(script);
        var e = await Assert.ThrowsAsync<SmtpClientException>(() => SmtpClientConnection.ConnectAsync(server.EndPoint, options ?? Options, Ct));
        Assert.Equal(kind, e.Kind);
        await server.Completion;
        return e;
    }

    /// <summary>Sends <paramref name="body"/> and asserts that the peer took it.</summary>
    private async Task AssertDeliveredAsync(SmtpClientConnection connection, SmtpEnvelope envelope, byte[] body) =>
        Assert.True((await connection.SendAsync(envelope, body, Ct)).Delivered);

    /// <summary>Sends <paramref name="body"/> in one pipelined transaction that the server accepts; returns what arrived as DATA.</summary>
    private async Task<byte[]> SendOneAndReceiveAsync(byte[] body)
    {
        byte[]? received = null;
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            received = await AcceptPipelinedAsync(s);
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        }, connection => AssertDeliveredAsync(connection, Envelope("b@y.test"), body));
        return received!;
    }

    /// <summary>
    /// Sends <see cref="Message"/> to a server offering <paramref name="extensions"/> that expects no transaction, only QUIT:
    /// the client must refuse it itself. Returns the refused transaction's result.
    /// </summary>
    private async Task<TransactionResult> SendRefusedBeforeMailAsync(SmtpEnvelope envelope, params string[] extensions)
    {
        TransactionResult? result = null;
        await DialogAsync(async s =>
        {
            await GreetAsync(s, extensions);
            await s.ExchangeAsync("QUIT", "221 bye");
        }, async connection =>
        {
            result = await connection.SendAsync(envelope, Message, Ct);
            Assert.Equal(0, connection.TransactionCount);
            await connection.QuitAsync(Ct);
        });
        return result!;
    }

    private static SmtpEnvelope Envelope(params string[] recipients) => new("a@x.test", recipients);

    [Fact]
    public async Task Greeting_220_is_read_and_kept()
    {
        await DialogAsync(async s =>
        {
            await s.SendAsync("220-mx.test ESMTP", "220 welcome");
            await s.ExchangeAsync("QUIT", "221 2.0.0 bye");
        }, async connection =>
        {
            Assert.Equal(220, connection.Greeting.Code);
            Assert.Equal(["mx.test ESMTP", "welcome"], connection.Greeting.Lines);
            var quit = await connection.QuitAsync(Ct);
            Assert.Equal(221, quit!.Code);
            Assert.False(connection.IsUsable);
        }, ehlo: false);
    }

    [Fact]
    public async Task Greeting_554_is_GreetingRejected_with_the_reply()
    {
        var e = await ConnectFailsAsync(async s =>
        {
            await s.SendAsync("554 5.7.1 no service for you");
            await s.ExpectCloseAsync();
        }, SmtpClientErrorKind.GreetingRejected);
        Assert.Equal(554, e.Reply!.Code);
    }

    [Fact]
    public async Task Connect_to_a_closed_port_is_ConnectFailed()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endPoint = (IPEndPoint)listener.LocalEndpoint;
        listener.Stop();
        var e = await Assert.ThrowsAsync<SmtpClientException>(() => SmtpClientConnection.ConnectAsync(endPoint, Options, Ct));
        Assert.Equal(SmtpClientErrorKind.ConnectFailed, e.Kind);
    }

    [Fact]
    public async Task Client_binds_to_the_configured_local_address()
    {
        IPAddress? seen = null;
        await DialogAsync(async s =>
        {
            seen = s.RemoteEndPoint.Address;
            await s.SendAsync("220 mx.test");
            await s.ExpectCloseAsync();
        }, _ => Task.CompletedTask, Options with { LocalEndPoint = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0) }, ehlo: false);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), seen);
    }

    [Fact]
    public async Task Connect_by_host_name_resolves_and_greets()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync("220 mx.test");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await SmtpClientConnection.ConnectAsync("127.0.0.1", server.EndPoint.Port, Options, Ct))
        {
            Assert.Equal(220, connection.Greeting.Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task EHLO_capabilities_are_parsed()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8", "STARTTLS", "CHUNKING", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN");
            await s.ExpectCloseAsync();
        }, connection =>
        {
            var caps = connection.Capabilities;
            Assert.True(caps.Pipelining && caps.EightBitMime && caps.SmtpUtf8 && caps.StartTls && caps.Chunking && caps.EnhancedStatusCodes);
            Assert.Equal(10240000, caps.MaxSize);
            Assert.True(caps.AuthMechanisms.SetEquals(["PLAIN", "LOGIN"]));
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task EHLO_refused_with_5xx_falls_back_to_HELO_without_extensions()
    {
        await DialogAsync(async s =>
        {
            await s.SendAsync("220 old.test SMTP");
            await s.ExchangeAsync("EHLO client.test", "502 command not implemented");
            await s.ExchangeAsync("HELO client.test", "250 old.test");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var reply = await connection.EhloAsync(Ct);
            Assert.Equal(250, reply.Code);
            Assert.Same(SmtpCapabilities.None, connection.Capabilities);
        }, ehlo: false);
    }

    [Fact]
    public async Task Pipelined_transaction_sends_MAIL_RCPT_and_DATA_in_one_batch()
    {
        var readsForBatch = -1;
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING", "SIZE 100000");
            var before = s.SocketReads;
            // All four commands must be here before the server says anything (RFC 2920 s3.1).
            await s.ExpectAsync($"MAIL FROM:<a@x.test> SIZE={Message.Length}", "RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "DATA");
            readsForBatch = s.SocketReads - before;
            await s.SendAsync("250 2.1.0 ok", "250 2.1.5 ok", "250 2.1.5 ok", "354 go ahead");
            Assert.Equal(Message.AsSpan().ToArray().Concat(".\r\n"u8.ToArray()), await s.ReadDataAsync());
            await s.SendAsync("250 2.0.0 queued as X1");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.Completed, result.Status);
            Assert.True(result.Delivered);
            Assert.Equal(2, result.AcceptedRecipients);
            Assert.Equal("2.0.0", result.DataReply!.Enhanced);
            Assert.Equal(1, connection.TransactionCount);
        });
        Assert.Equal(1, readsForBatch);
    }

    [Fact]
    public async Task Without_PIPELINING_each_command_waits_for_its_reply()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "8BITMIME");
            await ExchangeOneByOneAsync(s, ("MAIL FROM:<a@x.test>", "250 ok"), ("RCPT TO:<b@y.test>", "250 ok"), ("RCPT TO:<c@y.test>", "250 ok"), ("DATA", "354 go"));
            await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        }, connection => AssertDeliveredAsync(connection, Envelope("b@y.test", "c@y.test"), Message));
    }

    [Fact]
    public async Task UsePipelining_false_stops_pipelining_even_when_offered()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await ExchangeOneByOneAsync(s, ("MAIL FROM:<a@x.test>", "250 ok"), ("RCPT TO:<b@y.test>", "250 ok"), ("DATA", "354 go"));
            await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        }, connection => AssertDeliveredAsync(connection, Envelope("b@y.test"), Message), Options with { UsePipelining = false });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_250_to_DATA_is_a_protocol_violation_not_a_delivery(bool pipelining)
    {
        // RFC 5321 s4.3.2: DATA is answered with 354 or a refusal; a 250 would pass for a
        // delivery of content that was never sent.
        await DialogAsync(async s =>
        {
            await GreetAsync(s, pipelining ? ["PIPELINING"] : []);
            if (pipelining)
            {
                await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA");
                await s.SendAsync("250 ok", "250 ok", "250 ok whatever");
            }
            else
            {
                await ExchangeOneByOneAsync(s, ("MAIL FROM:<a@x.test>", "250 ok"), ("RCPT TO:<b@y.test>", "250 ok"), ("DATA", "250 ok whatever"));
            }
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.SendAsync(Envelope("b@y.test"), Message, Ct));
            Assert.Equal(SmtpClientErrorKind.ProtocolViolation, e.Kind);
            Assert.Contains("answered DATA with 250", e.Message, StringComparison.Ordinal);
            Assert.False(connection.IsUsable);
        });
    }

    private static SmtpEnvelope WithDsn(SmtpEnvelope envelope) => envelope with
    {
        EnvelopeId = "QX1+2Bid",
        Return = DsnReturn.Full,
        RecipientDsn = [new RecipientDsn(DsnNotify.Success | DsnNotify.Failure, "rfc822;Bob+2Btag@y.test"), new RecipientDsn(DsnNotify.Never, null), new RecipientDsn(DsnNotify.None, null)],
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DSN_parameters_go_on_only_to_a_peer_that_offers_DSN(bool offered)
    {
        // RFC 3461 s5.2.1: a relay passes RET, ENVID, NOTIFY and ORCPT to a next hop supporting DSN.
        string[] commands = offered
            ? ["MAIL FROM:<a@x.test> RET=FULL ENVID=QX1+2Bid", "RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Btag@y.test", "RCPT TO:<c@y.test> NOTIFY=NEVER", "RCPT TO:<d@y.test>", "DATA"]
            : ["MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "RCPT TO:<d@y.test>", "DATA"];
        await DialogAsync(async s =>
        {
            await GreetAsync(s, offered ? ["PIPELINING", "DSN"] : ["PIPELINING"]);
            await s.ExpectAsync(commands);
            await s.SendAsync("250 ok", "250 ok", "250 ok", "250 ok", "354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        }, connection => AssertDeliveredAsync(connection, WithDsn(Envelope("b@y.test", "c@y.test", "d@y.test")), Message));
    }

    [Theory]
    [InlineData(DsnReturn.Headers, "MAIL FROM:<a@x.test> RET=HDRS")]
    [InlineData(DsnReturn.Full, "MAIL FROM:<a@x.test> RET=FULL")]
    [InlineData(DsnReturn.None, "MAIL FROM:<a@x.test>")]
    public async Task RET_goes_on_to_a_peer_that_offers_DSN_as_the_client_gave_it(DsnReturn ret, string mail)
    {
        // RFC 3461 s5.2.1: RET=HDRS too, or the next hop applies its own default (Postfix: the full message).
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING", "DSN");
            await s.ExpectAsync(mail, "RCPT TO:<b@y.test>", "DATA");
            await s.SendAsync("250 ok", "250 ok", "354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        }, connection => AssertDeliveredAsync(connection, Envelope("b@y.test") with { Return = ret }, Message));
    }

    [Fact]
    public async Task Mixed_recipient_replies_are_reported_per_recipient()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING", "ENHANCEDSTATUSCODES");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<ok@y.test>", "RCPT TO:<later@y.test>", "RCPT TO:<bad@y.test>", "DATA");
            await s.SendAsync("250 2.1.0 ok", "250 2.1.5 ok", "450 4.2.1 mailbox busy", "550-5.1.1 no such user", "550 5.1.1 really", "354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 2.0.0 queued");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var result = await connection.SendAsync(Envelope("ok@y.test", "later@y.test", "bad@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.Completed, result.Status);
            Assert.Equal([250, 450, 550], result.RecipientReplies.Select(r => r.Code));
            Assert.Equal(["no such user", "really"], result.RecipientReplies[2].Lines);
            Assert.Equal(250, result.OutcomeFor(0).Code);
            Assert.Equal("4.2.1", result.OutcomeFor(1).Enhanced);
            Assert.Equal("5.1.1", result.OutcomeFor(2).Enhanced);
            Assert.Equal(1, result.AcceptedRecipients);
        });
    }

    [Fact]
    public async Task All_recipients_refused_sends_RSET_and_no_message()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s);
            await s.ExchangeAsync("MAIL FROM:<a@x.test>", "250 ok");
            await s.ExchangeAsync("RCPT TO:<b@y.test>", "550 5.1.1 no");
            await s.ExchangeAsync("RCPT TO:<c@y.test>", "450 4.2.0 later");
            await s.ExchangeAsync("RSET", "250 reset");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.NoRecipientAccepted, result.Status);
            Assert.Null(result.DataReply);
            Assert.Equal(550, result.OutcomeFor(0).Code);
            Assert.Equal(450, result.OutcomeFor(1).Code);
            Assert.True(connection.IsUsable);
        });
    }

    [Fact]
    public async Task All_recipients_refused_when_pipelined_sends_RSET_after_DATA_is_refused()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA");
            await s.SendAsync("250 ok", "550 5.1.1 no", "554 5.5.1 no valid recipients");
            await s.ExchangeAsync("RSET", "250 reset");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var result = await connection.SendAsync(Envelope("b@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.NoRecipientAccepted, result.Status);
            Assert.Null(result.DataReply);
            Assert.Equal(550, result.OutcomeFor(0).Code);
        });
    }

    [Fact]
    public async Task MAIL_refused_is_a_value_and_the_connection_stays_usable()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s);
            await s.ExchangeAsync("MAIL FROM:<>", "553 5.1.8 bad sender");
            await s.ExchangeAsync("NOOP", "250 ok");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var result = await connection.SendAsync(new SmtpEnvelope("", ["b@y.test"]), Message, Ct);
            Assert.Equal(TransactionStatus.MailRejected, result.Status);
            Assert.Equal(553, result.OutcomeFor(0).Code);
            Assert.Equal(250, (await connection.NoopAsync(Ct)).Code);
        });
    }

    [Fact]
    public async Task Message_is_dot_stuffed_with_every_line_end_CRLF_on_the_wire()
    {
        var body = "Subject: t\n\n.leading dot\r\nbare\rcr\nlf\r\n.\r\n..two\nend"u8.ToArray();
        var received = await SendOneAndReceiveAsync(body);
        Assert.Equal("Subject: t\r\n\r\n..leading dot\r\nbare\r\ncr\r\nlf\r\n..\r\n...two\r\nend\r\n.\r\n", Encoding.ASCII.GetString(received));
    }

    [Fact]
    public async Task Large_message_is_streamed_intact_across_chunks()
    {
        var line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"u8.ToArray();
        var body = Enumerable.Repeat(line, 4000).SelectMany(l => l).ToArray();
        var received = await SendOneAndReceiveAsync(body);
        Assert.Equal(body.Concat(".\r\n"u8.ToArray()), received);
    }

    [Fact]
    public async Task Message_larger_than_the_peer_SIZE_is_not_sent()
    {
        var result = await SendRefusedBeforeMailAsync(Envelope("b@y.test"), "PIPELINING", "SIZE 20");
        Assert.Equal(TransactionStatus.MessageTooLarge, result.Status);
        Assert.Equal(552, result.OutcomeFor(0).Code);
        Assert.Equal("5.3.4", result.OutcomeFor(0).Enhanced);
    }

    [Fact]
    public async Task SMTPUTF8_message_is_not_sent_to_a_peer_without_SMTPUTF8()
    {
        var result = await SendRefusedBeforeMailAsync(Envelope("jürgen@y.test"), "PIPELINING", "8BITMIME");
        Assert.Equal(TransactionStatus.SmtpUtf8NotSupported, result.Status);
        Assert.Equal(553, result.OutcomeFor(0).Code);
        Assert.Equal("5.6.7", result.OutcomeFor(0).Enhanced);
    }

    [Fact]
    public async Task SMTPUTF8_and_BODY_8BITMIME_are_declared_when_the_peer_offers_them()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "8BITMIME", "SMTPUTF8");
            await s.ExchangeAsync("MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8", "250 ok");
            await s.ExchangeAsync("RCPT TO:<jürgen@y.test>", "250 ok");
            await s.ExchangeAsync("DATA", "354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 ok");
            await s.ExpectCloseAsync();
        }, connection => AssertDeliveredAsync(connection, Envelope("jürgen@y.test") with { EightBitMime = true }, Message));
    }

    [Fact]
    public async Task Connection_is_reused_for_three_transactions()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            for (var i = 1; i <= 3; i++)
            {
                await AcceptPipelinedAsync(s, $"r{i}@y.test");
                await s.SendAsync($"250 2.0.0 queued as Q{i}");
            }
            await s.ExchangeAsync("QUIT", "221 bye");
        }, async connection =>
        {
            for (var i = 1; i <= 3; i++)
            {
                var result = await connection.SendAsync(Envelope($"r{i}@y.test"), Message, Ct);
                Assert.Equal($"queued as Q{i}", result.DataReply!.Text);
            }
            Assert.Equal(3, connection.TransactionCount);
            Assert.True(connection.IsUsable);
            Assert.Equal(221, (await connection.QuitAsync(Ct))!.Code);
        });
    }

    [Fact]
    public async Task Multi_line_final_reply_is_read_whole()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await AcceptPipelinedAsync(s);
            await s.SendAsync("554-5.7.1 message refused", "554-5.7.1 it looked like spam", "554 5.7.1 see https://x.test");
            await s.ExchangeAsync("NOOP", "250 ok");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var result = await connection.SendAsync(Envelope("b@y.test"), Message, Ct);
            Assert.False(result.Delivered);
            Assert.Equal(3, result.DataReply!.Lines.Count);
            Assert.Equal("5.7.1", result.OutcomeFor(0).Enhanced);
            Assert.Equal(250, (await connection.NoopAsync(Ct)).Code);
        });
    }

    [Fact]
    public async Task Malformed_reply_fails_the_connection()
    {
        await DialogAsync(async s =>
        {
            await s.SendAsync("220 mx.test");
            await s.ExchangeAsync("EHLO client.test", "25O mx.test oops");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.EhloAsync(Ct));
            Assert.Equal(SmtpClientErrorKind.MalformedReply, e.Kind);
            Assert.False(connection.IsUsable);
            var again = await Assert.ThrowsAsync<SmtpClientException>(() => connection.NoopAsync(Ct));
            Assert.Equal(SmtpClientErrorKind.NotUsable, again.Kind);
        }, ehlo: false);
    }

    [Fact]
    public async Task Endless_reply_line_is_malformed_not_a_hang()
    {
        await ConnectFailsAsync(async s =>
        {
            await s.SendRawAsync("220 " + new string('x', 5000));
            await s.ExpectCloseAsync();
        }, SmtpClientErrorKind.MalformedReply);
    }

    [Fact]
    public async Task Server_closing_mid_transaction_is_ConnectionClosed()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s);
            await s.ExchangeAsync("MAIL FROM:<a@x.test>", "250 ok");
            await s.ExpectAsync("RCPT TO:<b@y.test>");
            // The session ends here: the server hangs up without replying.
        }, async connection =>
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.SendAsync(Envelope("b@y.test"), Message, Ct));
            Assert.Equal(SmtpClientErrorKind.ConnectionClosed, e.Kind);
            Assert.False(connection.IsUsable);
        });
    }

    [Fact]
    public async Task Reply_421_mid_transaction_closes_the_service_for_the_remaining_recipients()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "DATA");
            await s.SendAsync("250 ok", "250 ok", "421 4.3.2 shutting down");
        }, async connection =>
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.ServiceClosing, result.Status);
            Assert.Equal(421, result.OutcomeFor(0).Code);
            Assert.Equal(421, result.OutcomeFor(1).Code);
            Assert.False(connection.IsUsable);
        });
    }

    [Fact]
    public async Task Silent_server_times_out_waiting_for_the_greeting()
    {
        await ConnectFailsAsync(s => s.ExpectCloseAsync(), SmtpClientErrorKind.Timeout, Options with { GreetingTimeout = TimeSpan.FromMilliseconds(200) });
    }

    [Fact]
    public async Task Server_that_stops_answering_times_out_the_command()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s);
            await s.ExpectAsync("MAIL FROM:<a@x.test>");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.SendAsync(Envelope("b@y.test"), Message, Ct));
            Assert.Equal(SmtpClientErrorKind.Timeout, e.Kind);
            Assert.False(connection.IsUsable);
        }, Options with { MailTimeout = TimeSpan.FromMilliseconds(200) });
    }

    [Fact]
    public async Task STARTTLS_upgrades_to_TLS_and_says_EHLO_again()
    {
        using var certificate = TestCertificate.Create("mx.test");
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "STARTTLS", "PIPELINING");
            await s.ExchangeAsync("STARTTLS", "220 2.0.0 ready to start TLS");
            await s.StartTlsAsync(certificate);
            await s.ExchangeAsync("EHLO client.test", "250-mx.test", "250-AUTH PLAIN", "250 SIZE 1000");
            await s.ExchangeAsync("QUIT", "221 bye");
        }, async connection =>
        {
            var reply = await connection.StartTlsAsync("mx.test", (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString(), Ct);
            Assert.Equal(250, reply.Code);
            Assert.True(connection.IsEncrypted);
            Assert.True(connection.TlsProtocol is SslProtocols.Tls12 or SslProtocols.Tls13);
            Assert.False(connection.Capabilities.StartTls);
            Assert.True(connection.Capabilities.Auth);
            Assert.Equal(1000, connection.Capabilities.MaxSize);
            Assert.Equal(221, (await connection.QuitAsync(Ct))!.Code);
        });
    }

    [Fact]
    public async Task STARTTLS_with_an_untrusted_certificate_fails_the_connection()
    {
        using var certificate = TestCertificate.Create("mx.test");
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "STARTTLS");
            await s.ExchangeAsync("STARTTLS", "220 2.0.0 go");
            try
            {
                // With TLS 1.3 the server may finish its side before the client rejects the certificate.
                await s.StartTlsAsync(certificate);
            }
            catch (Exception e) when (e is IOException or AuthenticationException)
            {
            }
        }, async connection =>
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.StartTlsAsync("mx.test", null, Ct));
            Assert.Equal(SmtpClientErrorKind.TlsFailed, e.Kind);
            Assert.False(connection.IsUsable);
        });
    }

    [Fact]
    public async Task Reply_injected_ahead_of_the_TLS_handshake_is_refused()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "STARTTLS");
            await s.ExchangeAsync("STARTTLS", "220 2.0.0 go", "250 injected before TLS");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.StartTlsAsync("mx.test", null, Ct));
            Assert.Equal(SmtpClientErrorKind.ProtocolViolation, e.Kind);
        });
    }

    [Fact]
    public async Task AUTH_PLAIN_sends_the_initial_response()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "AUTH PLAIN LOGIN");
            await s.ExchangeAsync("AUTH PLAIN " + Convert.ToBase64String("\0user\0secret"u8), "235 2.7.0 ok");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            Assert.Equal(235, (await connection.AuthenticateAsync("user", "secret", SmtpAuthMechanism.Plain, Ct)).Code);
        });
    }

    [Fact]
    public async Task AUTH_LOGIN_answers_both_challenges()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "AUTH LOGIN");
            await s.ExchangeAsync("AUTH LOGIN", "334 VXNlcm5hbWU6");
            await s.ExchangeAsync(Convert.ToBase64String("user"u8), "334 UGFzc3dvcmQ6");
            await s.ExchangeAsync(Convert.ToBase64String("secret"u8), "535 5.7.8 bad credentials");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            var reply = await connection.AuthenticateAsync("user", "secret", SmtpAuthMechanism.Login, Ct);
            Assert.Equal(535, reply.Code);
            Assert.True(connection.IsUsable);
        });
    }

    [Fact]
    public async Task A_235_marks_the_connection_authenticated_as_the_user_and_a_refusal_does_not()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "AUTH PLAIN");
            await s.ExchangeAsync("AUTH PLAIN " + Convert.ToBase64String("\0user\0wrong"u8), "535 5.7.8 bad credentials");
            await s.ExchangeAsync("AUTH PLAIN " + Convert.ToBase64String("\0user\0secret"u8), "235 2.7.0 ok");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            Assert.Null(connection.AuthenticatedUser);
            Assert.Equal(535, (await connection.AuthenticateAsync("user", "wrong", SmtpAuthMechanism.Plain, Ct)).Code);
            Assert.Null(connection.AuthenticatedUser);
            Assert.Equal(235, (await connection.AuthenticateAsync("user", "secret", SmtpAuthMechanism.Plain, Ct)).Code);
            Assert.Equal("user", connection.AuthenticatedUser);
        });
    }

    [Fact]
    public async Task Path_with_a_line_break_is_refused_before_anything_is_sent()
    {
        await DialogAsync(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectCloseAsync();
        }, async connection =>
        {
            await Assert.ThrowsAsync<ArgumentException>(() => connection.SendAsync(Envelope("b@y.test>\r\nRCPT TO:<c@y.test"), Message, Ct));
        });
    }
}
