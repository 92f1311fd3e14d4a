using System.Net;
using System.Net.Sockets;

namespace Router.Actors.Tests.Delivery;

/// <summary>
/// A UDP "name server" on 127.0.0.1 that answers every query with one fixed response code
/// (RFC 1035 s4.1.1), or never answers at all: the failures dnsmasq will not produce on demand.
/// It may answer MX queries with one record, so that only the hosts' lookups fail.
/// </summary>
internal sealed class ScriptedDnsServer : IAsyncDisposable
{
    public const int ServFail = 2;

    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private readonly string? _mxExchange;

    /// <param name="responseCode">The RCODE to answer with; null: swallow queries (a timeout).</param>
    /// <param name="mxExchange">If set, MX queries are answered (NOERROR) with one MX record naming this host, preference 10.</param>
    public ScriptedDnsServer(int? responseCode, string? mxExchange = null)
    {
        _mxExchange = mxExchange;
        _loop = responseCode is { } rcode ? AnswerAsync(rcode) : Task.CompletedTask;
    }

    public string Server => $"127.0.0.1:{((IPEndPoint)_udp.Client.LocalEndPoint!).Port}";

    private int _queries;

    /// <summary>How many queries have been answered.</summary>
    public int Queries => Volatile.Read(ref _queries);

    private async Task AnswerAsync(int rcode)
    {
        try
        {
            while (true)
            {
                var query = await _udp.ReceiveAsync(_stop.Token);
                Interlocked.Increment(ref _queries);
                var reply = query.Buffer.ToArray();
                if (reply.Length < 12) continue;
                // QR=1, keep opcode and RD, RA=1, the scripted RCODE; counts: the question only.
                reply[2] = (byte)(0x80 | (reply[2] & 0x79));
                reply[3] = (byte)(0x80 | rcode);
                reply[6] = reply[7] = reply[8] = reply[9] = reply[10] = reply[11] = 0;
                var end = QuestionEnd(reply);
                var answer = reply.AsMemory(0, end);
                if (_mxExchange is not null && end >= 16 && reply[end - 4] == 0 && reply[end - 3] == 15)
                {
                    reply[3] = 0x80;  // NOERROR
                    reply[7] = 1;     // ANCOUNT
                    answer = reply.Take(end).Concat(MxRecord(_mxExchange)).ToArray();
                }
                await _udp.SendAsync(answer, query.RemoteEndPoint, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>An MX answer for the question's name (a pointer to offset 12), TTL 60 (RFC 1035 s3.3.9, s4.1.3).</summary>
    private static byte[] MxRecord(string exchange)
    {
        var name = exchange.Split('.').SelectMany(l => new[] { (byte)l.Length }.Concat(System.Text.Encoding.ASCII.GetBytes(l))).Append((byte)0).ToArray();
        var rdata = new byte[] { 0, 10 }.Concat(name).ToArray();
        return [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, (byte)(rdata.Length >> 8), (byte)rdata.Length, .. rdata];
    }

    private static int QuestionEnd(byte[] message)
    {
        var i = 12;
        while (i < message.Length && message[i] != 0) i += message[i] + 1;
        return Math.Min(i + 5, message.Length); // root label, QTYPE, QCLASS
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _udp.Dispose();
        _stop.Dispose();
    }
}
