namespace Router.LoadTest.Sink;

/// <summary>One accepted message as the sink received it (dot-unstuffed), kept when capture is on.</summary>
public sealed record SinkMessage(string ReversePath, IReadOnlyList<string> Recipients, byte[] Data);
