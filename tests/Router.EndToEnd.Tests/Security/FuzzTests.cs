using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MailKit.Security;
using Router.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// A bounded fuzz run (fixed seed): 300 connections of random bytes and random command sequences
/// (STARTTLS into garbage, AUTH with junk, DATA and BDAT with random bodies, NULs, long lines)
/// against the MTA and submission ports from untrusted addresses. Afterwards a normal client is
/// served and the router holds no connection or socket it did not hold before.
/// </summary>
public sealed class FuzzTests(FuzzTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<FuzzTests.Fixture>
{
    private const int Seed = 20_251_129;
    private const int Connections = 300;
    private const int Concurrency = 16;
    private readonly RouterProcess _router = fixture.Router;

    public sealed class Fixture : RouterFixture
    {
        public int SubmissionPort { get; } = TestPorts.Next();

        protected override RouterOptions Options => new()
        {
            TrustedNetworks = ["127.0.0.1/32"],
            ExtraHocon = $$"""
                router {
                  smtp.submission-endpoints = ["127.0.0.1:{{SubmissionPort}}"]
                  dns.servers = ["127.0.0.1:{{TestPorts.Next()}}"]
                }
                """,
        };
    }

    private static readonly string[] Vocabulary =
    [
        "EHLO fuzz.test", "HELO fuzz.test", "EHLO", "MAIL FROM:<a@remote.test>", "MAIL FROM:<>", "MAIL FROM:<a@example.test> SIZE=99999999999",
        "RCPT TO:<alice@example.test>", "RCPT TO:<x@remote.test>", "RCPT TO:<@a,@b:c@remote.test>", "RCPT TO:<a%b@example.test>",
        "DATA", "BDAT 10", "BDAT 5 LAST", "BDAT x", "RSET", "NOOP", "VRFY alice", "EXPN team", "HELP", "STARTTLS", "STARTTLS x",
        "AUTH PLAIN", "AUTH LOGIN", "AUTH PLAIN AGFsaWNlAHdyb25n", "AUTH CRAM-MD5", "*", "=", "QUIT", "\u0000\u0001\u0002", "MAIL FROM:<\r>",
    ];

    [Fact]
    public async Task Random_input_leaves_the_router_serving_and_without_leaked_connections()
    {
        var pid = _router.Pid;
        var baseline = SecurityMaterial.SocketCount(pid);
        var ports = new[] { _router.Port, fixture.SubmissionPort };
        var random = new Random(Seed);
        var plans = Enumerable.Range(0, Connections).Select(i => (Port: ports[i % 2], From: IPAddress.Parse($"127.0.0.{40 + (i % 10)}"), Chunks: Plan(random))).ToArray();

        var watch = Stopwatch.StartNew();
        var next = -1;
        var unanswered = 0;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < plans.Length)
            {
                if (!await RunAsync(plans[i].Port, plans[i].From, plans[i].Chunks)) Interlocked.Increment(ref unanswered);
            }
        }));
        output.WriteLine($"{Connections} fuzz connections in {watch.Elapsed.TotalSeconds:0.0}s; {unanswered} not closed by the router within 5 s of our EOF");

        // A normal client is still served, on both ports.
        var token = TestMessages.NewToken();
        using (var client = await SecureClients.MailKitAsync(_router.Port, SecureSocketOptions.None))
        {
            await client.SendAsync(SecureClients.Message("someone@remote.test", "alice@example.test", token));
            await client.DisconnectAsync(true);
        }
        Assert.Single(_router.FilesContaining(token));
        await using (var dialog = await SmtpDialog.ConnectAsync(fixture.SubmissionPort))
        {
            await dialog.ExpectAsync("220");
            await dialog.CommandAsync("EHLO client.test", "250");
            await dialog.CommandAsync("QUIT", "221");
        }

        // Every session ended: no established connection on the SMTP ports, no socket kept.
        await Eventually.UntilAsync(async () => await OpenConnectionsAsync(ports) == 0, TimeSpan.FromSeconds(20),
            "no open connections on the router's SMTP ports");
        await Eventually.UntilAsync(() => Task.FromResult(SecurityMaterial.SocketCount(pid) <= baseline), TimeSpan.FromSeconds(20),
            $"the router's socket count to return to {baseline} (now {SecurityMaterial.SocketCount(pid)})");
        Assert.False(_router.HasExited);
        Assert.Equal(0, unanswered);
    }

    private static List<byte[]> Plan(Random random)
    {
        var chunks = new List<byte[]>();
        if (random.Next(3) == 0)
        {
            for (var n = random.Next(1, 4); n > 0; n--)
            {
                var bytes = new byte[random.Next(1, 1500)];
                random.NextBytes(bytes);
                chunks.Add(bytes);
            }
            return chunks;
        }
        var text = new StringBuilder();
        for (var n = random.Next(1, 25); n > 0; n--)
        {
            var pick = random.Next(Vocabulary.Length + 3);
            if (pick < Vocabulary.Length) text.Append(Vocabulary[pick]);
            else if (pick == Vocabulary.Length) text.Append('A', random.Next(400, 2000));
            else text.Append(Convert.ToBase64String(RandomBytes(random, random.Next(1, 60))));
            text.Append(random.Next(8) switch { 0 => "\n", 1 => "\r", _ => "\r\n" });
            if (random.Next(5) == 0)
            {
                chunks.Add(Encoding.Latin1.GetBytes(text.ToString()));
                text.Clear();
            }
        }
        if (text.Length > 0) chunks.Add(Encoding.Latin1.GetBytes(text.ToString()));
        return chunks;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Sends the chunks, half-closes, and reads until the router closes (true) or 5 s pass (false).</summary>
    private static async Task<bool> RunAsync(int port, IPAddress from, List<byte[]> chunks)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            foreach (var chunk in chunks) await socket.SendAsync(chunk, SocketFlags.None, cts.Token);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[8192];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true; // reset by the router: closed
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Server-side TCP connections on the ports in any state but LISTEN and TIME-WAIT (which hold no socket).</summary>
    private static async Task<int> OpenConnectionsAsync(int[] ports)
    {
        var filter = string.Join(" or ", ports.Select(p => $"sport = :{p}"));
        var (exit, text) = await SecureClients.RunAsync("ss", null, "-Htn", "state", "all", $"( {filter} )");
        Assert.True(exit == 0, text);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Count(l => !l.StartsWith("LISTEN", StringComparison.Ordinal) && !l.StartsWith("TIME-WAIT", StringComparison.Ordinal));
    }
}
