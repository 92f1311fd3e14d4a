using System.Text;
using BenchmarkDotNet.Attributes;
using Router.Protocol;

namespace Router.Benchmarks;

/// <summary>
/// DATA reading of a 1 MiB body of 78-character lines, one in ten dot-stuffed, into a reused
/// BodyBuffer: as one read, and as the 4 KiB and 64 KiB reads a socket hands over.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class DataReaderBenchmarks
{
    private byte[] _wire = [];
    private BodyBuffer _body = null!;

    /// <summary>The wire bytes of one DATA phase; deterministic, so the host process can compute MB/s from it.</summary>
    public static readonly Lazy<byte[]> Wire = new(() =>
    {
        var sb = new StringBuilder();
        var line = 0;
        while (sb.Length < 1 << 20)
        {
            // Stuffed lines start with "..": the reader keeps one dot.
            var prefix = line % 10 == 0 ? ".." : "";
            sb.Append(prefix).Append((char)('A' + (line % 26)), 78 - prefix.Length).Append("\r\n");
            line++;
        }
        sb.Append(".\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    });

    [GlobalSetup]
    public void Setup()
    {
        _wire = Wire.Value;
        _body = new BodyBuffer(2 << 20);
    }

    [GlobalCleanup]
    public void Cleanup() => _body.Dispose();

    [Benchmark(Baseline = true)]
    public int OneRead() => Read(_wire.Length);

    [Benchmark]
    public int Reads64K() => Read(64 * 1024);

    [Benchmark]
    public int Reads4K() => Read(4 * 1024);

    [Benchmark]
    public int OneRead_Normalize() => ReadWhole(BareLineEndings.Normalize);

    /// <summary>The load generator's sink reads DATA this way.</summary>
    [Benchmark]
    public int OneRead_Keep() => ReadWhole(BareLineEndings.Keep);

    private int ReadWhole(BareLineEndings bareLineEndings)
    {
        _body.Clear();
        var reader = new DataReader(long.MaxValue, dotTransparency: true, bareLineEndings);
        var consumed = reader.Read(_wire, _body);
        return Check(reader, consumed);
    }

    private int Read(int chunk)
    {
        _body.Clear();
        var reader = new DataReader(long.MaxValue, dotTransparency: true);
        var consumed = 0;
        while (!reader.IsComplete)
        {
            consumed += reader.Read(_wire.AsSpan(consumed, Math.Min(chunk, _wire.Length - consumed)), _body);
        }
        return Check(reader, consumed);
    }

    private int Check(DataReader reader, int consumed)
    {
        if (!reader.IsComplete || consumed != _wire.Length || reader.Violation != DataViolation.None) throw new InvalidOperationException("benchmark input not read as expected");
        return _body.Length;
    }
}
