using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Router.Actors.Configuration;
using Router.Actors.Delivery;
using Router.Actors.Security;
using Router.Protocol.Client;
using Router.Protocol;
using Router.Protocol.Tests.Client;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// AUTH at a next hop with credentials (router.relay.auth, RFC 4954), one delivery attempt against
/// a scripted server on a loopback port: nothing of the credentials before STARTTLS, PLAIN when
/// offered, LOGIN otherwise, no AUTH at all without a usable mechanism (the recipient deferred
/// with 4.7.0), and a pooled connection handed out only for the next hop and user it authenticated as.
/// </summary>
public sealed class DeliveryAttemptAuthTests : IDisposable
{
    private const string Host = "mx.smarthost.test";
    private const string User = "router@example.test";
    private const string Password = "s3cret-Pass";

    private static readonly byte[] Body = "Subject: hi\r\n\r\nhello\r\n"u8.ToArray();

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("router-attempt-auth-");
    private readonly X509Certificate2 _certificate = TestCertificate.Create(Host);
    private readonly CancellationTokenSource _backstop = new(TimeSpan.FromSeconds(60));

    public void Dispose()
    {
        _certificate.Dispose();
        _backstop.Dispose();
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task AUTH_PLAIN_goes_only_after_STARTTLS_and_before_the_mail()
    {
        var outcome = await AttemptAsync(async s =>
        {
            // AUTH offered in clear is not taken: the credentials wait for TLS.
            await StartTlsAsync(s, ["PIPELINING", "AUTH PLAIN LOGIN"], offeredInClear: "AUTH PLAIN LOGIN");
            await s.ExchangeAsync("AUTH PLAIN " + Base64("\0" + User + "\0" + Password), "235 2.7.0 Authentication successful");
            await AcceptMailAsync(s);
        });

        Assert.Equal(RecipientOutcome.Delivered, outcome.Outcome);
    }

    [Fact]
    public async Task AUTH_LOGIN_is_used_when_PLAIN_is_not_offered()
    {
        var outcome = await AttemptAsync(async s =>
        {
            await StartTlsAsync(s, ["PIPELINING", "AUTH CRAM-MD5 LOGIN"]);
            await s.ExchangeAsync("AUTH LOGIN", "334 VXNlcm5hbWU6");
            await s.ExchangeAsync(Base64(User), "334 UGFzc3dvcmQ6");
            await s.ExchangeAsync(Base64(Password), "235 2.7.0 Authentication successful");
            await AcceptMailAsync(s);
        });

        Assert.Equal(RecipientOutcome.Delivered, outcome.Outcome);
    }

    [Fact]
    public async Task No_usable_mechanism_sends_no_AUTH_and_defers_with_4_7_0()
    {
        var outcome = await AttemptAsync(async s =>
        {
            await StartTlsAsync(s, ["PIPELINING", "AUTH CRAM-MD5"]);
            await s.ExpectCloseAsync();
        });

        Assert.Equal(RecipientOutcome.Deferred, outcome.Outcome);
        Assert.Equal("451 4.7.0 SASL authentication failed; cannot authenticate to server mx.smarthost.test[127.0.0.1]: no mechanism available (offered: CRAM-MD5)", outcome.FullReply());
        // The log names the host reached (relay=mx.smarthost.test); a notice would name no remote MTA: the reply is ours.
        Assert.Equal("mx.smarthost.test", outcome.RelayHost());
        Assert.Null(outcome.RemoteMta);
    }

    [Fact]
    public async Task A_pooled_connection_is_handed_out_only_for_its_next_hop_and_user()
    {
        await using var server = ScriptedSmtpServer.Start(async s =>
        {
            await s.SendAsync($"220 {Host} ESMTP");
            await s.ExchangeAsync("EHLO mx.router.test", $"250-{Host}", "250 AUTH PLAIN");
            await s.ExchangeAsync("AUTH PLAIN " + Base64("\0" + User + "\0" + Password), "235 2.7.0 Authentication successful");
            await s.ExpectCloseAsync();
        });
        var pool = new ConnectionPool(100, TimeSpan.FromMinutes(1));
        var connection = await SmtpClientConnection.ConnectAsync(server.EndPoint, new SmtpClientOptions { LocalHostName = "mx.router.test" }, _backstop.Token);
        await connection.EhloAsync(_backstop.Token);
        Assert.Equal(235, (await connection.AuthenticateAsync(User, Password, SmtpAuthMechanism.Plain, _backstop.Token)).Code);
        var nextHop = NextHop.Key(Host, server.EndPoint.Port);

        pool.Return(nextHop, connection);

        Assert.Null(pool.TryTake(nextHop));
        Assert.Null(pool.TryTake(nextHop, "someone-else@example.test"));
        Assert.Null(pool.TryTake(NextHop.Key("other.smarthost.test", server.EndPoint.Port), User));
        Assert.Same(connection, pool.TryTake(nextHop, User));
        await connection.DisposeAsync();
        await server.Completion;
    }

    /// <summary>
    /// One attempt of a message for bob@remote.test, routed to the scripted server as <see cref="Host"/>
    /// with credentials for it; the next hop's TLS policy is opportunistic, which takes the
    /// server's self-signed certificate. Returns the recipient's result once the script has played.
    /// </summary>
    private async Task<RecipientResult> AttemptAsync(Func<ScriptedSession, Task> script)
    {
        await using var server = ScriptedSmtpServer.Start(script);
        var port = server.EndPoint.Port;
        var passwordFile = Path.Combine(_folder.FullName, "relay-password");
        await File.WriteAllTextAsync(passwordFile, Password + "\n");
        var nextHop = NextHop.Key(Host, port);
        var credentials = RelayCredentials.Load(new Dictionary<string, RelayAuthSettings> { [nextHop] = new(User, passwordFile) });
        var settings = TestDomainServices.DefaultDelivery with { TlsPolicy = new Dictionary<string, string> { [nextHop] = "opportunistic" } };
        var resolver = new SteeredMxResolver { Resolution = new MxResolution.Resolved([new MxHost(Host, [IPAddress.Loopback], port)]) };
        var message = new QueuedMessage("Q1", "remote.test", "alice@example.test", null, false, false, false, DateTimeOffset.UtcNow, Body.Length,
            [new QueuedRecipient("bob@remote.test", DsnNotify.None, null)]);
        var pool = new ConnectionPool(100, TimeSpan.FromMinutes(1));

        var results = await new DeliveryAttempt(settings, "mx.router.test", resolver, pool, credentials).RunAsync(message, [0], Body, _backstop.Token);

        await pool.DisposeAsync();
        await server.Completion.WaitAsync(_backstop.Token);
        return Assert.Single(results);
    }

    /// <summary>Greeting, EHLO offering STARTTLS (and <paramref name="offeredInClear"/>, when given), the handshake, and the EHLO after it offering <paramref name="secured"/>.</summary>
    private async Task StartTlsAsync(ScriptedSession s, string[] secured, string? offeredInClear = null)
    {
        await s.SendAsync($"220 {Host} ESMTP");
        await s.ExpectAsync("EHLO mx.router.test");
        await s.SendAsync(offeredInClear is null ? [$"250-{Host}", "250 STARTTLS"] : [$"250-{Host}", $"250-{offeredInClear}", "250 STARTTLS"]);
        await s.ExchangeAsync("STARTTLS", "220 2.0.0 Ready to start TLS");
        await s.StartTlsAsync(_certificate);
        await s.ExpectAsync("EHLO mx.router.test");
        string[] lines = [Host, .. secured];
        await s.SendAsync(lines.Select((l, i) => (i == lines.Length - 1 ? "250 " : "250-") + l).ToArray());
    }

    /// <summary>A pipelined MAIL, RCPT, DATA, the content, the final 250, then the QUIT of the pool's close.</summary>
    private static async Task AcceptMailAsync(ScriptedSession s)
    {
        await s.ExpectAsync("MAIL FROM:<alice@example.test>", "RCPT TO:<bob@remote.test>", "DATA");
        await s.SendAsync("250 2.1.0 Ok", "250 2.1.5 Ok", "354 Go ahead");
        await s.ReadDataAsync();
        await s.SendAsync("250 2.0.0 Ok: queued");
        await s.ExchangeAsync("QUIT", "221 2.0.0 Bye");
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
