using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Router.Benchmarks;

/// <summary>
/// Config of the protocol benchmarks: a build timeout long enough for a busy build machine (the default
/// two minutes is not), and for the DATA benchmarks an "MB/s" column: 10^6 wire bytes per second, from the mean.
/// </summary>
public class ProtocolBenchConfig : ManualConfig
{
    public ProtocolBenchConfig() => WithBuildTimeout(TimeSpan.FromMinutes(10));
}

/// <inheritdoc cref="ProtocolBenchConfig"/>
public sealed class ThroughputConfig : ProtocolBenchConfig
{
    public ThroughputConfig() => AddColumn(new ThroughputColumn());

    private sealed class ThroughputColumn : IColumn
    {
        public string Id => "Throughput";
        public string ColumnName => "MB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Wire bytes read per second, in 10^6 bytes";

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null || stats.Mean <= 0) return "-";
            var bytes = DataReaderBenchmarks.Wire.Value.Length;
            return (bytes / (stats.Mean * 1e-9) / 1e6).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
