namespace Router.Actors.Tests.Delivery;

/// <summary>
/// One dnsmasq, started once for all <see cref="MxResolverTests"/>, serving the .test zone the
/// resolver tests read. Extra servers (for cache tests that kill theirs) come from the same fixture.
/// </summary>
public sealed class MxTestZone : DnsmasqFixture
{
    public string Server { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        Server = await StartAsync(
        [
            Mx("pref.test", "mx-b.pref.test", 20),
            Mx("pref.test", "mx-a.pref.test", 10),
            Mx("pref.test", "mx-c.pref.test", 30),
            Host("mx-a.pref.test", "127.0.0.11"),
            Host("mx-b.pref.test", "127.0.0.12"),
            Host("mx-c.pref.test", "127.0.0.13"),

            Mx("equal.test", "mx1.equal.test", 10),
            Mx("equal.test", "mx2.equal.test", 10),
            Host("mx1.equal.test", "127.0.0.21"),
            Host("mx2.equal.test", "127.0.0.22"),

            Host("implicit.test", "127.0.0.30"),

            Mx("dual.test", "mx.dual.test", 10),
            Host("mx.dual.test", "127.0.0.40", "::1"),

            Mx("nullmx.test", ".", 0),

            Mx("noaddr.test", "ghost.noaddr.test", 10),

            Mx("partial.test", "ghost.partial.test", 10),
            Mx("partial.test", "real.partial.test", 20),
            Host("real.partial.test", "127.0.0.50"),

            Mx("routed.test", "mx.routed.test", 10),
            Host("mx.routed.test", "127.0.0.60"),
            Host("relay.test", "127.0.0.70"),

            .. Enumerable.Range(1, 7).SelectMany(i => new[] { Mx("many.test", $"mx{i}.many.test", i * 10), Host($"mx{i}.many.test", $"127.0.1.{i}") }),

            "--txt-record=txtonly.test,no mail here",

            Mx("xn--bcher-kva.test", "mx.xn--bcher-kva.test", 10),
            Host("mx.xn--bcher-kva.test", "127.0.0.80"),
        ]);
    }
}
