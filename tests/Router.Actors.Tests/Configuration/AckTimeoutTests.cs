namespace Router.Actors.Tests.Configuration;

/// <summary>
/// How long a message's owners may take: delivery-ack-timeout plus a second per 10 MB written
/// (each mailbox writes a copy), at most 9 minutes (RFC 5321 s4.5.3.2.6: the client waits 10
/// minutes for the reply to the final dot), and never less than the configured timeout.
/// </summary>
public sealed class AckTimeoutTests
{
    [Theory]
    [InlineData(30, 0, 30)]
    [InlineData(30, 4_096, 30.0004096)]
    [InlineData(30, 300_000_000, 60)]
    [InlineData(30, 25_000_000_000, 540)]
    [InlineData(1200, 25_000_000_000, 1200)]
    public void Grows_with_the_bytes_written_up_to_nine_minutes(int ackSeconds, long bytes, double expectedSeconds)
    {
        var settings = TestSettings.Minimal("mx.test") with { DeliveryAckTimeout = TimeSpan.FromSeconds(ackSeconds) };
        Assert.Equal(expectedSeconds, settings.AckTimeoutFor(bytes).TotalSeconds, precision: 6);
    }
}
