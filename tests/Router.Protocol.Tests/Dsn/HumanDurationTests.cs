using Router.Protocol.Dsn;

namespace Router.Protocol.Tests.Dsn;

/// <summary>Durations in a DSN's readable text are written for people, not as TimeSpan's "5.00:00:00".</summary>
public sealed class HumanDurationTests
{
    [Theory]
    [InlineData("5.00:00:00", "5 days")]
    [InlineData("1.00:00:00", "1 day")]
    [InlineData("04:00:00", "4 hours")]
    [InlineData("00:02:00", "2 minutes")]
    [InlineData("00:00:05", "5 seconds")]
    [InlineData("00:00:01", "1 second")]
    [InlineData("00:02:30", "2 minutes 30 seconds")]
    [InlineData("1.12:00:00", "1 day 12 hours")]
    [InlineData("00:00:00.250", "250 milliseconds")]
    [InlineData("00:00:00", "0 milliseconds")]
    public void Duration_is_written_in_whole_units(string span, string expected) =>
        Assert.Equal(expected, HumanDuration.Format(TimeSpan.Parse(span, System.Globalization.CultureInfo.InvariantCulture)));
}
