using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Inbound;

/// <summary>
/// The router shared by the dialog, pipelining, DATA and fan-out tests: 127.0.0.1 is NOT a trusted
/// network (so relaying is refused), 3 recipients per transaction, 64 KiB messages.
/// </summary>
public sealed class InboundRouterFixture : RouterFixture
{
    public const long MaxMessageSize = 64 * 1024;

    protected override RouterOptions Options => new()
    {
        TrustedNetworks = ["10.0.0.0/8"],
        MaxRecipients = 3,
        MaxMessageSize = "64KiB",
    };
}
