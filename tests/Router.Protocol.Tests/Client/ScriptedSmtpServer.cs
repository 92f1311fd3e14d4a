using System.Net;
using System.Net.Sockets;

namespace Router.Protocol.Tests.Client;

/// <summary>
/// A real SMTP server on a loopback port that plays one dialogue script per accepted connection,
/// for testing the outbound client against the wire (RFC 5321 s4.3 sequencing). The script
/// asserts the client's lines and sends canned replies; Completion surfaces any mismatch.
/// </summary>
internal sealed class ScriptedSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();

    private ScriptedSmtpServer(Func<ScriptedSession, Task> script, int connections)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        Completion = RunAsync(script, connections);
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Completes when every scripted connection has played out; faults with the first assertion that failed.</summary>
    public Task Completion { get; }

    public static ScriptedSmtpServer Start(Func<ScriptedSession, Task> script, int connections = 1) => new(script, connections);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await Completion;
        }
        catch (Exception)
        {
            // The test has awaited Completion itself when it mattered.
        }
        _stop.Dispose();
    }

    private async Task RunAsync(Func<ScriptedSession, Task> script, int connections)
    {
        for (var i = 0; i < connections; i++)
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            client.NoDelay = true;
            await using var session = new ScriptedSession(client, _stop.Token);
            await script(session);
        }
    }
}
