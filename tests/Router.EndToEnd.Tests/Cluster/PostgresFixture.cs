using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// A private PostgreSQL server for one test run: initdb into a fresh temporary folder (as the
/// <c>postgres</c> OS user when the tests run as root, since initdb refuses root), listening only
/// on 127.0.0.1 and a free port with its socket in the folder, trust auth for loopback, one
/// database "router". Dispose stops it (pg_ctl -m fast) and, if need be, kills its postmaster by
/// PID. A test may stop and start the server in between (an outage). The binaries are Debian's (/usr/lib/postgresql/*/bin); scripts/test.sh installs them.
/// </summary>
public sealed class PostgresFixture : IAsyncDisposable
{
    private string? _bin;
    private int _postmasterPid;

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "router-pg-" + Guid.NewGuid().ToString("N")[..12]);

    public int Port { get; private set; }

    public string Database => "router";

    /// <summary>The Npgsql connection string of the test database.</summary>
    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Database={Database};Username=postgres;Maximum Pool Size=40;Timeout=30;Command Timeout=60";

    private string DataDir => Path.Combine(Folder, "data");

    /// <summary>The first column of the first row of <paramref name="sql"/>, on a connection of its own; $1, $2... are <paramref name="parameters"/>.</summary>
    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters) command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task StartAsync()
    {
        _bin = FindBinaries();
        Directory.CreateDirectory(Folder);
        if (RunsAsRoot) await RunAsync("/usr/bin/chown", ["postgres:postgres", Folder], asPostgres: false);
        await RunAsync(Path.Combine(_bin, "initdb"), ["-D", DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        await File.WriteAllTextAsync(Path.Combine(DataDir, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n");
        Port = TestPorts.Next();
        await StartServerAsync();
        await RunAsync(Path.Combine(_bin, "createdb"), ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", Database]);
    }

    /// <summary>An outage: pg_ctl -m fast stop (open sessions are terminated, their transactions rolled back), the data kept.</summary>
    public async Task StopServerAsync()
    {
        await RunAsync(Path.Combine(_bin!, "pg_ctl"), ["-D", DataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
        _postmasterPid = 0;
    }

    /// <summary>Starts the server again on the same port and data after <see cref="StopServerAsync"/>; returns once it accepts connections.</summary>
    public Task StartServerAgainAsync() => StartServerAsync();

    private async Task StartServerAsync()
    {
        // fsync stays on: the durability the cluster tests check is PostgreSQL's as much as ours.
        var options = $"-c listen_addresses=127.0.0.1 -p {Port} -k {Folder} -c max_connections=300 -c shared_buffers=128MB";
        await RunAsync(Path.Combine(_bin!, "pg_ctl"), ["-D", DataDir, "-l", Path.Combine(Folder, "postgres.log"), "-w", "-t", "60", "-o", options, "start"]);
        _postmasterPid = int.Parse((await File.ReadAllLinesAsync(Path.Combine(DataDir, "postmaster.pid")))[0], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_bin is not null && _postmasterPid != 0)
        {
            try
            {
                await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-m", "fast", "-w", "-t", "30", "stop"]);
            }
            catch (InvalidOperationException)
            {
                // Stopping failed: the kill below ends it.
            }
            try
            {
                using var postmaster = Process.GetProcessById(_postmasterPid);
                if (postmaster.ProcessName.StartsWith("postgres", StringComparison.Ordinal)) postmaster.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }
        }
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static bool RunsAsRoot => Environment.UserName == "root";

    private static string FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => d, StringComparer.Ordinal)
                .FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). The cluster tests run a private " +
            "PostgreSQL server: install it with scripts/test.sh, or `apt-get install -y postgresql`.");
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> args, bool asPostgres = true)
    {
        var info = new ProcessStartInfo(asPostgres && RunsAsRoot ? "/usr/sbin/runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        if (asPostgres && RunsAsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program }) info.ArgumentList.Add(a);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args)} failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
        }
    }
}
