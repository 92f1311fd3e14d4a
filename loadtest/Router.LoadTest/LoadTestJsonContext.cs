using System.Text.Json.Serialization;
using Router.LoadTest.Generator;
using Router.LoadTest.Sink;

namespace Router.LoadTest;

/// <summary>Source-generated JSON for the report (--json) and the sink's stats file, camelCase for scripts.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LoadReport))]
[JsonSerializable(typeof(SinkStats))]
internal sealed partial class LoadTestJsonContext : JsonSerializerContext;
