using System.Net;
using Router.Actors.Delivery;
using Router.Protocol;
using Router.Protocol.Tests.Client;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// One delivery attempt against scripted servers on loopback ports: a 421 that a server left on
/// an idle pooled connection (its timeout) is not taken as the reply to the next message, which
/// goes on a fresh connection, and nothing that a server accepted part of goes twice; a session
/// refused with a 5xx to HELO is final at the last host (its reply, its name as the Remote-MTA)
/// and moves on to the next host before that; a refused EHLO is named as such; a loop found by
/// EHLO names the host it reached.
/// </summary>
public sealed class DeliveryAttemptTests : IDisposable
{
    private const string Host = "mx.remote.test";
    private const string Backup = "mx2.remote.test";

    private static readonly byte[] Body = "Subject: hi\r\n\r\nhello\r\n"u8.ToArray();

    private readonly CancellationTokenSource _backstop = new(TimeSpan.FromSeconds(60));
    private readonly ConnectionPool _pool = new(100, TimeSpan.FromMinutes(1));

    public void Dispose() => _backstop.Dispose();

    [Fact]
    public async Task A_421_left_on_a_pooled_connection_sends_the_next_message_on_a_fresh_one()
    {
        var connections = 0;
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            if (++connections == 1)
            {
                await GreetAsync(s);
                await AcceptAsync(s, "bob@remote.test");
                // The server's idle timeout ends the session while the connection waits in the pool.
                await s.SendAsync("421 4.4.2 mx.remote.test Error: timeout exceeded");
                await s.ExpectAsync("MAIL FROM:<alice@example.test>", "RCPT TO:<carol@remote.test>", "DATA");
                // The client takes the 421 as the end of the session: no content follows.
                await s.ExpectCloseAsync();
                return;
            }
            await GreetAsync(s);
            await AcceptAsync(s, "carol@remote.test");
            await s.ExchangeAsync("QUIT", "221 2.0.0 Bye");
        }, connections: 2);
        var attempt = AttemptOn([new MxHost(Host, [IPAddress.Loopback], server.EndPoint.Port)]);

        var first = Assert.Single(await attempt.RunAsync(Message("Q1", "bob@remote.test"), [0], Body, _backstop.Token));
        var second = Assert.Single(await attempt.RunAsync(Message("Q2", "carol@remote.test"), [0], Body, _backstop.Token));

        Assert.Equal(RecipientOutcome.Delivered, first.Outcome);
        Assert.Equal(RecipientOutcome.Delivered, second.Outcome);
        Assert.Equal("250 2.0.0 Ok: queued", second.FullReply());
        Assert.Equal(2, _pool.Opened);
        await _pool.DisposeAsync();
        await server.Completion.WaitAsync(_backstop.Token);
    }

    [Fact]
    public async Task A_421_after_a_recipient_was_accepted_on_a_pooled_connection_is_not_sent_again()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s);
            await AcceptAsync(s, "bob@remote.test");
            await s.ExpectAsync("MAIL FROM:<alice@example.test>", "RCPT TO:<carol@remote.test>", "RCPT TO:<dave@remote.test>", "DATA");
            await s.SendAsync("250 2.1.0 Ok", "250 2.1.5 Ok", "421 4.4.2 mx.remote.test Error: timeout exceeded");
            await s.ExpectCloseAsync();
        });
        var attempt = AttemptOn([new MxHost(Host, [IPAddress.Loopback], server.EndPoint.Port)]);
        Assert.Equal(RecipientOutcome.Delivered, Assert.Single(await attempt.RunAsync(Message("Q1", "bob@remote.test"), [0], Body, _backstop.Token)).Outcome);

        var results = await attempt.RunAsync(Message("Q2", "carol@remote.test", "dave@remote.test"), [0, 1], Body, _backstop.Token);

        // carol was accepted: the server may hold part of the transaction, so neither goes again now.
        Assert.All(results, r => Assert.Equal(RecipientOutcome.Deferred, r.Outcome));
        Assert.All(results, r => Assert.Equal(421, r.Code));
        Assert.Equal(1, _pool.Opened);
        await server.Completion.WaitAsync(_backstop.Token);
    }

    [Fact]
    public async Task HELO_refused_with_5xx_at_the_last_host_fails_the_recipient_with_the_servers_reply()
    {
        await using var server = ScriptedSmtpServer.Start(RefuseEhloAndHeloAsync);
        var attempt = AttemptOn([new MxHost(Host, [IPAddress.Loopback], server.EndPoint.Port)]);

        var result = Assert.Single(await attempt.RunAsync(Message("Q1", "bob@remote.test"), [0], Body, _backstop.Token));

        Assert.Equal(RecipientOutcome.Failed, result.Outcome);
        Assert.Equal("550 5.7.1 you are not welcome", result.FullReply());
        // A bounce's Remote-MTA and Diagnostic-Code come from the server that refused.
        Assert.Equal(Host, result.RemoteMta);
        await server.Completion.WaitAsync(_backstop.Token);
    }

    [Fact]
    public async Task HELO_refused_with_5xx_at_a_better_host_moves_on_to_the_next_host()
    {
        await using var refusing = ScriptedSmtpServer.Start(RefuseEhloAndHeloAsync);
        await using var backup = ScriptedSmtpServer.Start(async s =>
        {
            await GreetAsync(s);
            await AcceptAsync(s, "bob@remote.test");
            await s.ExchangeAsync("QUIT", "221 2.0.0 Bye");
        });
        var attempt = AttemptOn(
        [
            new MxHost(Host, [IPAddress.Loopback], refusing.EndPoint.Port, 10),
            new MxHost(Backup, [IPAddress.Loopback], backup.EndPoint.Port, 20),
        ]);

        var result = Assert.Single(await attempt.RunAsync(Message("Q1", "bob@remote.test"), [0], Body, _backstop.Token));

        Assert.Equal(RecipientOutcome.Delivered, result.Outcome);
        Assert.Equal(Backup, result.RemoteMta);
        await _pool.DisposeAsync();
        await refusing.Completion.WaitAsync(_backstop.Token);
        await backup.Completion.WaitAsync(_backstop.Token);
    }

    [Fact]
    public async Task EHLO_refused_with_4xx_defers_and_names_EHLO()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync($"220 {Host} ESMTP");
            await s.ExchangeAsync("EHLO mx.router.test", "421 4.3.2 too busy");
            await s.ExpectCloseAsync();
        });
        var attempt = AttemptOn([new MxHost(Host, [IPAddress.Loopback], server.EndPoint.Port)]);

        var result = Assert.Single(await attempt.RunAsync(Message("Q1", "bob@remote.test"), [0], Body, _backstop.Token));

        Assert.Equal(RecipientOutcome.Deferred, result.Outcome);
        Assert.Equal("421 4.3.2 mx.remote.test refused EHLO: 421 4.3.2 too busy", result.FullReply());
        await server.Completion.WaitAsync(_backstop.Token);
    }

    [Fact]
    public async Task A_loop_found_by_EHLO_names_the_host_it_reached_as_the_relay()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync($"220 {Host} ESMTP");
            await s.ExchangeAsync("EHLO mx.router.test", "250-mx.router.test", "250 PIPELINING");
            await s.ExpectCloseAsync();
        });
        var attempt = AttemptOn([new MxHost(Host, [IPAddress.Loopback], server.EndPoint.Port)]);

        var result = Assert.Single(await attempt.RunAsync(Message("Q1", "bob@remote.test"), [0], Body, _backstop.Token));

        Assert.Equal(RecipientOutcome.Failed, result.Outcome);
        Assert.Equal("554 5.4.6 mail for remote.test loops back to myself", result.FullReply());
        Assert.Equal(Host, result.RelayHost());
        await server.Completion.WaitAsync(_backstop.Token);
    }

    private DeliveryAttempt AttemptOn(MxHost[] hosts)
    {
        var resolver = new SteeredMxResolver { Resolution = new MxResolution.Resolved(hosts) };
        return new DeliveryAttempt(TestDomainServices.DefaultDelivery, "mx.router.test", resolver, _pool);
    }

    private static QueuedMessage Message(string queueId, params string[] recipients) =>
        new(queueId, "remote.test", "alice@example.test", null, false, false, false, DateTimeOffset.UtcNow, Body.Length,
            recipients.Select(r => new QueuedRecipient(r, DsnNotify.None, null)).ToArray());

    private static async Task GreetAsync(ScriptedSession s)
    {
        await s.SendAsync($"220 {Host} ESMTP");
        await s.ExchangeAsync("EHLO mx.router.test", $"250-{Host}", "250 PIPELINING");
    }

    /// <summary>A pipelined MAIL, RCPT, DATA for <paramref name="recipient"/>, the content and the final 250.</summary>
    private static async Task AcceptAsync(ScriptedSession s, string recipient)
    {
        await s.ExpectAsync("MAIL FROM:<alice@example.test>", $"RCPT TO:<{recipient}>", "DATA");
        await s.SendAsync("250 2.1.0 Ok", "250 2.1.5 Ok", "354 Go ahead");
        await s.ReadDataAsync();
        await s.SendAsync("250 2.0.0 Ok: queued");
    }

    private static async Task RefuseEhloAndHeloAsync(ScriptedSession s)
    {
        await s.SendAsync($"220 {Host} ESMTP");
        await s.ExchangeAsync("EHLO mx.router.test", "550 5.7.1 you are not welcome");
        await s.ExchangeAsync("HELO mx.router.test", "550 5.7.1 you are not welcome");
        await s.ExpectCloseAsync();
    }
}
