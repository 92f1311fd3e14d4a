using System.CommandLine;
using Router.LoadTest.Cli;

namespace Router.LoadTest;

/// <summary>`loadtest run` drives SMTP load at a router; `loadtest sink` is the fast counting server behind it.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Load generator and counting SMTP sink for Router (loopback test use only).");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SinkCommand.Create());
        return await root.Parse(args).InvokeAsync();
    }
}
