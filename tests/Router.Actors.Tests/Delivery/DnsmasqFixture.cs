using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace Router.Actors.Tests.Delivery;

/// <summary>
/// Runs real dnsmasq name servers for tests, on 127.0.0.1 and a free port, answering only from
/// the records given (--no-resolv: nothing is ever forwarded; names under the local zones that
/// have no record get NXDOMAIN, anything else REFUSED). Each started server is killed by its own
/// PID when the fixture is disposed. Use as an xunit class or collection fixture.
/// </summary>
public class DnsmasqFixture : IAsyncLifetime
{
    public const string DnsmasqPath = "/usr/sbin/dnsmasq";

    private static readonly string[] AllowedOptions =
        ["--mx-host=", "--host-record=", "--cname=", "--txt-record=", "--srv-host=", "--dns-rr=", "--local=", "--address=", "--server=/"];

    private readonly ConcurrentDictionary<string, Instance> _instances = new();

    /// <summary>"--mx-host=domain,host,preference"; host "." is a null MX (RFC 7505).</summary>
    public static string Mx(string domain, string host, int preference) => $"--mx-host={domain},{host},{preference}";

    /// <summary>"--host-record=name,ip[,ip...]": A and AAAA records (and the matching PTR).</summary>
    public static string Host(string name, params string[] addresses) => $"--host-record={name},{string.Join(',', addresses)}";

    /// <summary>"--txt-record=name,text": one TXT record of one string.</summary>
    public static string Txt(string name, string text) => $"--txt-record={name},{text}";

    /// <summary>
    /// "--server=/domain/127.0.0.1#port": queries under <paramref name="domain"/> are forwarded to
    /// that loopback server (which may answer SERVFAIL, or nothing at all), and its answer, or
    /// none, relayed: the failures of a zone behind this dnsmasq.
    /// </summary>
    public static string Forward(string domain, string server)
    {
        var endpoint = IPEndPoint.Parse(server);
        if (!IPAddress.IsLoopback(endpoint.Address)) throw new ArgumentException($"{server} is not a loopback server", nameof(server));
        return $"--server=/{domain}/{endpoint.Address}#{endpoint.Port}";
    }

    /// <summary>
    /// Starts one dnsmasq serving <paramref name="records"/> (dnsmasq options such as
    /// <see cref="Mx"/> and <see cref="Host"/> build) with TTL <paramref name="localTtl"/>, and
    /// returns its address as "127.0.0.1:port" once it answers queries.
    /// </summary>
    /// <param name="localZones">Zones answered authoritatively: unknown names in them are NXDOMAIN. Default: "test".</param>
    public async Task<string> StartAsync(IEnumerable<string> records, int localTtl = 0, IEnumerable<string>? localZones = null, CancellationToken ct = default)
    {
        if (!File.Exists(DnsmasqPath))
            throw new InvalidOperationException($"dnsmasq is not installed at {DnsmasqPath}: install it (apt-get install dnsmasq-base) to run the DNS tests.");

        var recordList = records.ToList();
        foreach (var r in recordList)
        {
            if (!AllowedOptions.Any(p => r.StartsWith(p, StringComparison.Ordinal)))
                throw new ArgumentException($"'{r}' is not a record option this fixture allows ({string.Join(' ', AllowedOptions)})", nameof(records));
        }
        var zones = (localZones ?? ["test"]).ToList();

        // A port free a moment ago may be taken by the time dnsmasq binds it: try a few.
        string? lastLog = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var port = FreePort();
            var instance = Instance.Start(port, recordList, zones, localTtl);
            var server = $"127.0.0.1:{port}";
            if (await instance.WaitUntilAnsweringAsync(TimeSpan.FromSeconds(10), ct).ConfigureAwait(false))
            {
                _instances[server] = instance;
                return server;
            }
            lastLog = instance.Log;
            await instance.DisposeAsync().ConfigureAwait(false);
        }
        throw new InvalidOperationException($"dnsmasq did not start answering; its last output:\n{lastLog}");
    }

    /// <summary>Kills the server started as <paramref name="server"/> and waits for it to exit.</summary>
    public async Task StopAsync(string server)
    {
        if (_instances.TryRemove(server, out var instance))
            await instance.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>What the server logged so far, including one "query[TYPE] name from ..." line per query.</summary>
    public string LogOf(string server) => _instances.TryGetValue(server, out var instance) ? instance.Log : "";

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var key in _instances.Keys.ToList())
            await StopAsync(key).ConfigureAwait(false);
    }

    private static int FreePort()
    {
        // dnsmasq listens on UDP and TCP: the port must be free on both.
        while (true)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // taken for TCP: pick another
            }
        }
    }

    private sealed class Instance : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly int _port;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Instance(Process process, int port)
        {
            _process = process;
            _port = port;
        }

        public string Log => string.Join('\n', _lines);

        public static Instance Start(int port, IReadOnlyList<string> records, IReadOnlyList<string> zones, int localTtl)
        {
            var psi = new ProcessStartInfo(DnsmasqPath)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in new[]
                     {
                         "--no-daemon", "--no-resolv", "--no-hosts", $"--port={port}", "--listen-address=127.0.0.1",
                         "--bind-interfaces", $"--local-ttl={localTtl}", "--log-queries", "--log-facility=-",
                     })
            {
                psi.ArgumentList.Add(arg);
            }
            foreach (var zone in zones) psi.ArgumentList.Add($"--local=/{zone}/");
            foreach (var record in records) psi.ArgumentList.Add(record);

            var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            var instance = new Instance(process, port);
            process.OutputDataReceived += (_, e) => instance.OnLine(e.Data);
            process.ErrorDataReceived += (_, e) => instance.OnLine(e.Data);
            process.Exited += (_, _) => instance._started.TrySetResult();
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return instance;
        }

        private void OnLine(string? line)
        {
            if (line is null) return;
            _lines.Enqueue(line);
            // dnsmasq logs "started" after it has bound its sockets.
            if (line.Contains("started, version", StringComparison.Ordinal)) _started.TrySetResult();
        }

        /// <summary>Waits for the "started" line (or exit), then for an answer to a real query.</summary>
        public async Task<bool> WaitUntilAnsweringAsync(TimeSpan timeout, CancellationToken ct)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            try
            {
                await _started.Task.WaitAsync(cts.Token).ConfigureAwait(false);
                if (_process.HasExited) return false;

                var options = new LookupClientOptions(new IPEndPoint(IPAddress.Loopback, _port))
                {
                    UseCache = false,
                    Timeout = TimeSpan.FromMilliseconds(500),
                    Retries = 0,
                    ThrowDnsErrors = false,
                };
                var client = new LookupClient(options);
                while (!_process.HasExited)
                {
                    cts.Token.ThrowIfCancellationRequested();
                    try
                    {
                        // Any response at all, even REFUSED, means the server is up.
                        await client.QueryAsync("probe.invalid", QueryType.A, QueryClass.IN, cts.Token).ConfigureAwait(false);
                        return true;
                    }
                    catch (DnsResponseException)
                    {
                        // not answering yet: the query's own timeout paces the next attempt
                    }
                }
                return false;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited) _process.Kill();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // never started or already reaped
            }
            finally
            {
                _process.Dispose();
            }
        }
    }
}
