using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Postfix's smtp-sink as a child process (a receiving server we did not write): started on an
/// address and port with the options given, ready once it accepts connections, its output (with -v,
/// each command) collected as it comes, and killed when disposed.
/// </summary>
internal sealed class PostfixSmtpSink : IDisposable
{
    private const string Program = "/usr/sbin/smtp-sink";
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private PostfixSmtpSink(Process process) => _process = process;

    /// <summary>What smtp-sink wrote so far, stdout and stderr, line by line.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Starts <c>smtp-sink -u nobody OPTIONS ADDRESS:PORT 100</c> and waits until it accepts connections.</summary>
    public static async Task<PostfixSmtpSink> StartAsync(IPAddress address, int port, params string[] options)
    {
        Assert.True(File.Exists(Program), $"{Program} is missing: apt-get install postfix");
        var info = new ProcessStartInfo(Program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])["-u", "nobody", .. options, $"{address}:{port.ToString(CultureInfo.InvariantCulture)}", "100"]) info.ArgumentList.Add(a);
        var sink = new PostfixSmtpSink(new Process { StartInfo = info });
        sink._process.ErrorDataReceived += (_, e) => sink.Add(e.Data);
        sink._process.OutputDataReceived += (_, e) => sink.Add(e.Data);
        sink._process.Start();
        sink._process.BeginErrorReadLine();
        sink._process.BeginOutputReadLine();
        try
        {
            await Eventually.TrueAsync(() => !sink._process.HasExited && Accepts(address, port), TimeSpan.FromSeconds(10), () => $"smtp-sink listening on {address}:{port}; its output: {sink.Output}");
        }
        catch
        {
            sink.Dispose();
            throw;
        }
        return sink;
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Append(line).Append('\n');
    }

    private static bool Accepts(IPAddress address, int port)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Connect(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // already reaped
        }
        _process.Dispose();
    }
}
