using System.Net;
using System.Net.Sockets;
using System.Text;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.Relay;

/// <summary>
/// Receiving servers for the relay tests: the load generator's counting sink bound to a chosen
/// loopback address (a sink on 127.0.77.5 answers only there, so each MX host of a test zone
/// is its own server on the shared MX port), capturing every accepted message.
/// </summary>
internal static class TestSinks
{
    /// <summary>Starts a capturing sink; <paramref name="rules"/> are "REGEX=CODE" (first match decides the RCPT reply).</summary>
    public static Task<SmtpSink> StartAsync(IPEndPoint at, params string[] rules) => StartAsync(at, "sink-" + at.Address, rules);

    /// <summary>A capturing sink that names itself <paramref name="hostName"/> in its greeting and EHLO reply.</summary>
    public static async Task<SmtpSink> StartAsync(IPEndPoint at, string hostName, params string[] rules)
    {
        var sink = new SmtpSink(new SinkOptions
        {
            Listen = at,
            HostName = hostName,
            CaptureMessages = true,
            Rules = rules.Select(RecipientRule.Parse).ToArray(),
        });
        await sink.StartAsync();
        return sink;
    }

    /// <summary>A TCP port nothing listens on at any of <paramref name="addresses"/> (127.0.0.0/8 only).</summary>
    public static int FreePortOnAll(IEnumerable<IPAddress> addresses)
    {
        var all = addresses.ToArray();
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            first.Bind(new IPEndPoint(all[0], 0));
            var port = ((IPEndPoint)first.LocalEndPoint!).Port;
            var held = new List<Socket>();
            try
            {
                foreach (var address in all.Skip(1))
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    held.Add(socket);
                    socket.Bind(new IPEndPoint(address, port));
                }
                return port;
            }
            catch (SocketException)
            {
                // Taken on one of the addresses: try another port.
            }
            finally
            {
                foreach (var socket in held) socket.Dispose();
            }
        }
        throw new InvalidOperationException("no port free on every test address");
    }

    /// <summary>The messages the sink accepted whose content carries <paramref name="token"/>.</summary>
    public static SinkMessage[] MessagesWith(this SmtpSink sink, string token)
    {
        var needle = Encoding.ASCII.GetBytes(token);
        return sink.Messages.Where(m => m.Data.AsSpan().IndexOf(needle) >= 0).ToArray();
    }
}
