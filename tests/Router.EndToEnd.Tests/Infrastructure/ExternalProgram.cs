using System.Diagnostics;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Runs a real program the tests drive (swaks, openssl, python3, ss, the router's CLI) to its end: writes
/// <c>stdin</c> (if any) then closes it, captures both outputs, and kills the program with its children when
/// it has not finished within a minute.
/// </summary>
internal static class ExternalProgram
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, string? stdin, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
