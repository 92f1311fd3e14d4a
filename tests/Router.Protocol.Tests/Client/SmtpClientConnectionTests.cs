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

    private async Task<SmtpClientConnection> ConnectAndEhloAsync(ScriptedSmtpServer server, SmtpClientOptions? options = null)
    {
        var connection = await SmtpClientConnection.ConnectAsync(server.EndPoint, options ?? Options, Ct);
        var ehlo = await connection.EhloAsync(Ct);
        Assert.Equal(250, ehlo.Code);
        return connection;
    }

    private static SmtpEnvelope Envelope(params string[] recipients) => new("a@x.test", recipients);

    [Fact]
    public async Task Greeting_220_is_read_and_kept()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync("220-mx.test ESMTP", "220 welcome");
            await s.ExpectAsync("QUIT");
            await s.SendAsync("221 2.0.0 bye");
        });
        await using var connection = await SmtpClientConnection.ConnectAsync(server.EndPoint, Options, Ct);
        Assert.Equal(220, connection.Greeting.Code);
        Assert.Equal(["mx.test ESMTP", "welcome"], connection.Greeting.Lines);
        var quit = await connection.QuitAsync(Ct);
        Assert.Equal(221, quit!.Code);
        Assert.False(connection.IsUsable);
        await server.Completion;
    }

    [Fact]
    public async Task Greeting_554_is_GreetingRejected_with_the_reply()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync("554 5.7.1 no service for you");
            await s.ExpectCloseAsync();
        });
        var e = await Assert.ThrowsAsync<SmtpClientException>(() => SmtpClientConnection.ConnectAsync(server.EndPoint, Options, Ct));
        Assert.Equal(SmtpClientErrorKind.GreetingRejected, e.Kind);
        Assert.Equal(554, e.Reply!.Code);
        await server.Completion;
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
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            seen = s.RemoteEndPoint.Address;
            await s.SendAsync("220 mx.test");
            await s.ExpectCloseAsync();
        });
        var options = Options with { LocalEndPoint = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0) };
        await (await SmtpClientConnection.ConnectAsync(server.EndPoint, options, Ct)).DisposeAsync();
        await server.Completion;
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
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8", "STARTTLS", "CHUNKING", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var caps = connection.Capabilities;
            Assert.True(caps.Pipelining && caps.EightBitMime && caps.SmtpUtf8 && caps.StartTls && caps.Chunking && caps.EnhancedStatusCodes);
            Assert.Equal(10240000, caps.MaxSize);
            Assert.True(caps.AuthMechanisms.SetEquals(["PLAIN", "LOGIN"]));
        }
        await server.Completion;
    }

    [Fact]
    public async Task EHLO_refused_with_5xx_falls_back_to_HELO_without_extensions()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync("220 old.test SMTP");
            await s.ExpectAsync("EHLO client.test");
            await s.SendAsync("502 command not implemented");
            await s.ExpectAsync("HELO client.test");
            await s.SendAsync("250 old.test");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await SmtpClientConnection.ConnectAsync(server.EndPoint, Options, Ct))
        {
            var reply = await connection.EhloAsync(Ct);
            Assert.Equal(250, reply.Code);
            Assert.Same(SmtpCapabilities.None, connection.Capabilities);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Pipelined_transaction_sends_MAIL_RCPT_and_DATA_in_one_batch()
    {
        var readsForBatch = -1;
        await using var server = ScriptedSmtpServer.Start(async s =>
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
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.Completed, result.Status);
            Assert.True(result.Delivered);
            Assert.Equal(2, result.AcceptedRecipients);
            Assert.Equal("2.0.0", result.DataReply!.Enhanced);
            Assert.Equal(1, connection.TransactionCount);
        }
        await server.Completion;
        Assert.Equal(1, readsForBatch);
    }

    [Fact]
    public async Task Without_PIPELINING_each_command_waits_for_its_reply()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "8BITMIME");
            foreach (var (command, reply) in new[] { ("MAIL FROM:<a@x.test>", "250 ok"), ("RCPT TO:<b@y.test>", "250 ok"), ("RCPT TO:<c@y.test>", "250 ok"), ("DATA", "354 go") })
            {
                await s.ExpectAsync(command);
                Assert.False(s.HasBufferedInput, $"client sent more before the reply to {command}");
                await s.SendAsync(reply);
            }
            await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.True(result.Delivered);
        }
        await server.Completion;
    }

    [Fact]
    public async Task UsePipelining_false_stops_pipelining_even_when_offered()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>");
            Assert.False(s.HasBufferedInput);
            await s.SendAsync("250 ok");
            await s.ExpectAsync("RCPT TO:<b@y.test>");
            Assert.False(s.HasBufferedInput);
            await s.SendAsync("250 ok");
            await s.ExpectAsync("DATA");
            await s.SendAsync("354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server, Options with { UsePipelining = false }))
        {
            Assert.True((await connection.SendAsync(Envelope("b@y.test"), Message, Ct)).Delivered);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Mixed_recipient_replies_are_reported_per_recipient()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING", "ENHANCEDSTATUSCODES");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<ok@y.test>", "RCPT TO:<later@y.test>", "RCPT TO:<bad@y.test>", "DATA");
            await s.SendAsync("250 2.1.0 ok", "250 2.1.5 ok", "450 4.2.1 mailbox busy", "550-5.1.1 no such user", "550 5.1.1 really", "354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 2.0.0 queued");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("ok@y.test", "later@y.test", "bad@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.Completed, result.Status);
            Assert.Equal([250, 450, 550], result.RecipientReplies.Select(r => r.Code));
            Assert.Equal(["no such user", "really"], result.RecipientReplies[2].Lines);
            Assert.Equal(250, result.OutcomeFor(0).Code);
            Assert.Equal("4.2.1", result.OutcomeFor(1).Enhanced);
            Assert.Equal("5.1.1", result.OutcomeFor(2).Enhanced);
            Assert.Equal(1, result.AcceptedRecipients);
        }
        await server.Completion;
    }

    [Fact]
    public async Task All_recipients_refused_sends_RSET_and_no_message()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s);
            await s.ExpectAsync("MAIL FROM:<a@x.test>");
            await s.SendAsync("250 ok");
            await s.ExpectAsync("RCPT TO:<b@y.test>");
            await s.SendAsync("550 5.1.1 no");
            await s.ExpectAsync("RCPT TO:<c@y.test>");
            await s.SendAsync("450 4.2.0 later");
            await s.ExpectAsync("RSET");
            await s.SendAsync("250 reset");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.NoRecipientAccepted, result.Status);
            Assert.Null(result.DataReply);
            Assert.Equal(550, result.OutcomeFor(0).Code);
            Assert.Equal(450, result.OutcomeFor(1).Code);
            Assert.True(connection.IsUsable);
        }
        await server.Completion;
    }

    [Fact]
    public async Task All_recipients_refused_when_pipelined_sends_RSET_after_DATA_is_refused()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA");
            await s.SendAsync("250 ok", "550 5.1.1 no", "554 5.5.1 no valid recipients");
            await s.ExpectAsync("RSET");
            await s.SendAsync("250 reset");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.NoRecipientAccepted, result.Status);
            Assert.Null(result.DataReply);
            Assert.Equal(550, result.OutcomeFor(0).Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task MAIL_refused_is_a_value_and_the_connection_stays_usable()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s);
            await s.ExpectAsync("MAIL FROM:<>");
            await s.SendAsync("553 5.1.8 bad sender");
            await s.ExpectAsync("NOOP");
            await s.SendAsync("250 ok");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(new SmtpEnvelope("", ["b@y.test"]), Message, Ct);
            Assert.Equal(TransactionStatus.MailRejected, result.Status);
            Assert.Equal(553, result.OutcomeFor(0).Code);
            Assert.Equal(250, (await connection.NoopAsync(Ct)).Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Message_is_dot_stuffed_with_every_line_end_CRLF_on_the_wire()
    {
        var body = "Subject: t\n\n.leading dot\r\nbare\rcr\nlf\r\n.\r\n..two\nend"u8.ToArray();
        byte[]? received = null;
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA");
            await s.SendAsync("250 ok", "250 ok", "354 go");
            received = await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            Assert.True((await connection.SendAsync(Envelope("b@y.test"), body, Ct)).Delivered);
        }
        await server.Completion;
        Assert.Equal("Subject: t\r\n\r\n..leading dot\r\nbare\r\ncr\r\nlf\r\n..\r\n...two\r\nend\r\n.\r\n", Encoding.ASCII.GetString(received!));
    }

    [Fact]
    public async Task Large_message_is_streamed_intact_across_chunks()
    {
        var line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"u8.ToArray();
        var body = Enumerable.Repeat(line, 4000).SelectMany(l => l).ToArray();
        byte[]? received = null;
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA");
            await s.SendAsync("250 ok", "250 ok", "354 go");
            received = await s.ReadDataAsync();
            await s.SendAsync("250 queued");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            Assert.True((await connection.SendAsync(Envelope("b@y.test"), body, Ct)).Delivered);
        }
        await server.Completion;
        Assert.Equal(body.Concat(".\r\n"u8.ToArray()), received!);
    }

    [Fact]
    public async Task Message_larger_than_the_peer_SIZE_is_not_sent()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING", "SIZE 20");
            await s.ExpectAsync("QUIT");
            await s.SendAsync("221 bye");
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.MessageTooLarge, result.Status);
            Assert.Equal(552, result.OutcomeFor(0).Code);
            Assert.Equal("5.3.4", result.OutcomeFor(0).Enhanced);
            Assert.Equal(0, connection.TransactionCount);
            await connection.QuitAsync(Ct);
        }
        await server.Completion;
    }

    [Fact]
    public async Task SMTPUTF8_message_is_not_sent_to_a_peer_without_SMTPUTF8()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING", "8BITMIME");
            await s.ExpectAsync("QUIT");
            await s.SendAsync("221 bye");
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("jürgen@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.SmtpUtf8NotSupported, result.Status);
            Assert.Equal(553, result.OutcomeFor(0).Code);
            Assert.Equal("5.6.7", result.OutcomeFor(0).Enhanced);
            await connection.QuitAsync(Ct);
        }
        await server.Completion;
    }

    [Fact]
    public async Task SMTPUTF8_and_BODY_8BITMIME_are_declared_when_the_peer_offers_them()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "8BITMIME", "SMTPUTF8");
            await s.ExpectAsync("MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8");
            await s.SendAsync("250 ok");
            await s.ExpectAsync("RCPT TO:<jürgen@y.test>");
            await s.SendAsync("250 ok");
            await s.ExpectAsync("DATA");
            await s.SendAsync("354 go");
            await s.ReadDataAsync();
            await s.SendAsync("250 ok");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var envelope = Envelope("jürgen@y.test") with { EightBitMime = true };
            Assert.True((await connection.SendAsync(envelope, Message, Ct)).Delivered);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Connection_is_reused_for_three_transactions()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            for (var i = 1; i <= 3; i++)
            {
                await s.ExpectAsync("MAIL FROM:<a@x.test>", $"RCPT TO:<r{i}@y.test>", "DATA");
                await s.SendAsync("250 ok", "250 ok", "354 go");
                await s.ReadDataAsync();
                await s.SendAsync($"250 2.0.0 queued as Q{i}");
            }
            await s.ExpectAsync("QUIT");
            await s.SendAsync("221 bye");
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            for (var i = 1; i <= 3; i++)
            {
                var result = await connection.SendAsync(Envelope($"r{i}@y.test"), Message, Ct);
                Assert.Equal($"queued as Q{i}", result.DataReply!.Text);
            }
            Assert.Equal(3, connection.TransactionCount);
            Assert.True(connection.IsUsable);
            Assert.Equal(221, (await connection.QuitAsync(Ct))!.Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Multi_line_final_reply_is_read_whole()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA");
            await s.SendAsync("250 ok", "250 ok", "354 go");
            await s.ReadDataAsync();
            await s.SendAsync("554-5.7.1 message refused", "554-5.7.1 it looked like spam", "554 5.7.1 see https://x.test");
            await s.ExpectAsync("NOOP");
            await s.SendAsync("250 ok");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test"), Message, Ct);
            Assert.False(result.Delivered);
            Assert.Equal(3, result.DataReply!.Lines.Count);
            Assert.Equal("5.7.1", result.OutcomeFor(0).Enhanced);
            Assert.Equal(250, (await connection.NoopAsync(Ct)).Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Malformed_reply_fails_the_connection()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync("220 mx.test");
            await s.ExpectAsync("EHLO client.test");
            await s.SendAsync("25O mx.test oops");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await SmtpClientConnection.ConnectAsync(server.EndPoint, Options, Ct))
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.EhloAsync(Ct));
            Assert.Equal(SmtpClientErrorKind.MalformedReply, e.Kind);
            Assert.False(connection.IsUsable);
            var again = await Assert.ThrowsAsync<SmtpClientException>(() => connection.NoopAsync(Ct));
            Assert.Equal(SmtpClientErrorKind.NotUsable, again.Kind);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Endless_reply_line_is_malformed_not_a_hang()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendRawAsync("220 " + new string('x', 5000));
            await s.ExpectCloseAsync();
        });
        var e = await Assert.ThrowsAsync<SmtpClientException>(() => SmtpClientConnection.ConnectAsync(server.EndPoint, Options, Ct));
        Assert.Equal(SmtpClientErrorKind.MalformedReply, e.Kind);
        await server.Completion;
    }

    [Fact]
    public async Task Server_closing_mid_transaction_is_ConnectionClosed()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s);
            await s.ExpectAsync("MAIL FROM:<a@x.test>");
            await s.SendAsync("250 ok");
            await s.ExpectAsync("RCPT TO:<b@y.test>");
            // The session ends here: the server hangs up without replying.
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.SendAsync(Envelope("b@y.test"), Message, Ct));
            Assert.Equal(SmtpClientErrorKind.ConnectionClosed, e.Kind);
            Assert.False(connection.IsUsable);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Reply_421_mid_transaction_closes_the_service_for_the_remaining_recipients()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectAsync("MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "DATA");
            await s.SendAsync("250 ok", "250 ok", "421 4.3.2 shutting down");
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var result = await connection.SendAsync(Envelope("b@y.test", "c@y.test"), Message, Ct);
            Assert.Equal(TransactionStatus.ServiceClosing, result.Status);
            Assert.Equal(421, result.OutcomeFor(0).Code);
            Assert.Equal(421, result.OutcomeFor(1).Code);
            Assert.False(connection.IsUsable);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Silent_server_times_out_waiting_for_the_greeting()
    {
        await using var server = ScriptedSmtpServer.Start(s => s.ExpectCloseAsync());
        var options = Options with { GreetingTimeout = TimeSpan.FromMilliseconds(200) };
        var e = await Assert.ThrowsAsync<SmtpClientException>(() => SmtpClientConnection.ConnectAsync(server.EndPoint, options, Ct));
        Assert.Equal(SmtpClientErrorKind.Timeout, e.Kind);
        await server.Completion;
    }

    [Fact]
    public async Task Server_that_stops_answering_times_out_the_command()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s);
            await s.ExpectAsync("MAIL FROM:<a@x.test>");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server, Options with { MailTimeout = TimeSpan.FromMilliseconds(200) }))
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.SendAsync(Envelope("b@y.test"), Message, Ct));
            Assert.Equal(SmtpClientErrorKind.Timeout, e.Kind);
            Assert.False(connection.IsUsable);
        }
        await server.Completion;
    }

    [Fact]
    public async Task STARTTLS_upgrades_to_TLS_and_says_EHLO_again()
    {
        using var certificate = TestCertificate.Create("mx.test");
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "STARTTLS", "PIPELINING");
            await s.ExpectAsync("STARTTLS");
            await s.SendAsync("220 2.0.0 ready to start TLS");
            await s.StartTlsAsync(certificate);
            await s.ExpectAsync("EHLO client.test");
            await s.SendAsync("250-mx.test", "250-AUTH PLAIN", "250 SIZE 1000");
            await s.ExpectAsync("QUIT");
            await s.SendAsync("221 bye");
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var reply = await connection.StartTlsAsync("mx.test", (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString(), Ct);
            Assert.Equal(250, reply.Code);
            Assert.True(connection.IsEncrypted);
            Assert.True(connection.TlsProtocol is SslProtocols.Tls12 or SslProtocols.Tls13);
            Assert.False(connection.Capabilities.StartTls);
            Assert.True(connection.Capabilities.Auth);
            Assert.Equal(1000, connection.Capabilities.MaxSize);
            Assert.Equal(221, (await connection.QuitAsync(Ct))!.Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task STARTTLS_with_an_untrusted_certificate_fails_the_connection()
    {
        using var certificate = TestCertificate.Create("mx.test");
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "STARTTLS");
            await s.ExpectAsync("STARTTLS");
            await s.SendAsync("220 2.0.0 go");
            try
            {
                // With TLS 1.3 the server may finish its side before the client rejects the certificate.
                await s.StartTlsAsync(certificate);
            }
            catch (Exception e) when (e is IOException or AuthenticationException)
            {
            }
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.StartTlsAsync("mx.test", null, Ct));
            Assert.Equal(SmtpClientErrorKind.TlsFailed, e.Kind);
            Assert.False(connection.IsUsable);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Reply_injected_ahead_of_the_TLS_handshake_is_refused()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "STARTTLS");
            await s.ExpectAsync("STARTTLS");
            await s.SendAsync("220 2.0.0 go", "250 injected before TLS");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var e = await Assert.ThrowsAsync<SmtpClientException>(() => connection.StartTlsAsync("mx.test", null, Ct));
            Assert.Equal(SmtpClientErrorKind.ProtocolViolation, e.Kind);
        }
        await server.Completion;
    }

    [Fact]
    public async Task AUTH_PLAIN_sends_the_initial_response()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "AUTH PLAIN LOGIN");
            await s.ExpectAsync("AUTH PLAIN " + Convert.ToBase64String("\0user\0secret"u8));
            await s.SendAsync("235 2.7.0 ok");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            Assert.Equal(235, (await connection.AuthenticateAsync("user", "secret", SmtpAuthMechanism.Plain, Ct)).Code);
        }
        await server.Completion;
    }

    [Fact]
    public async Task AUTH_LOGIN_answers_both_challenges()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "AUTH LOGIN");
            await s.ExpectAsync("AUTH LOGIN");
            await s.SendAsync("334 VXNlcm5hbWU6");
            await s.ExpectAsync(Convert.ToBase64String("user"u8));
            await s.SendAsync("334 UGFzc3dvcmQ6");
            await s.ExpectAsync(Convert.ToBase64String("secret"u8));
            await s.SendAsync("535 5.7.8 bad credentials");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            var reply = await connection.AuthenticateAsync("user", "secret", SmtpAuthMechanism.Login, Ct);
            Assert.Equal(535, reply.Code);
            Assert.True(connection.IsUsable);
        }
        await server.Completion;
    }

    [Fact]
    public async Task Path_with_a_line_break_is_refused_before_anything_is_sent()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s, "PIPELINING");
            await s.ExpectCloseAsync();
        });
        await using (var connection = await ConnectAndEhloAsync(server))
        {
            await Assert.ThrowsAsync<ArgumentException>(() => connection.SendAsync(Envelope("b@y.test>\r\nRCPT TO:<c@y.test"), Message, Ct));
        }
        await server.Completion;
    }
}
