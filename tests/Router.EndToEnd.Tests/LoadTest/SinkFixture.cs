using System.Net;
using Router.LoadTest.Generator;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.LoadTest;

/// <summary>Helpers shared by the sink/generator tests: an in-process sink on a free loopback port, and generator options aimed at it.</summary>
internal static class SinkFixture
{
    public static async Task<SmtpSink> StartSinkAsync(SinkOptions? options = null)
    {
        var sink = new SmtpSink((options ?? new SinkOptions()) with { Listen = new IPEndPoint(IPAddress.Loopback, 0) });
        await sink.StartAsync();
        return sink;
    }

    public static LoadGeneratorOptions LoadAt(SmtpSink sink) => new()
    {
        Targets = [sink.EndPoint],
        Timeout = TimeSpan.FromSeconds(20),
    };
}
