using System.Text;
using Router.Actors.Configuration;
using Router.Actors.Routing;
using Router.Protocol;

namespace Router.Actors.Tests.Security;

/// <summary>
/// Never an open relay: for a client that may not relay, no RCPT argument — % hack, source
/// route, bang path, quoted @, trailing dot, address literal, case games — leads to a remote
/// destination. The argument goes through the real parser first, as in a session.
/// </summary>
public sealed class RelayPolicyTests
{
    private static readonly RoutingPolicy Policy = new(TestSettings.Create());
    private static readonly RoutingPolicy PolicyWithCatchAll = new(TestSettings.Create(s => s with
    {
        CatchAll = new Dictionary<string, string> { ["example.test"] = "alice@example.test" },
    }));

    public static TheoryData<string> Tricks() =>
    [
        "<friend@remote.test>",
        "<FRIEND@REMOTE.TEST>",
        "<friend%remote.test@example.test>",
        "<@example.test:friend@remote.test>",
        "<@example.test,@other.test:friend@remote.test>",
        "<remote.test!friend@example.test>",
        "<\"friend@remote.test\"@example.test>",
        "<\"friend%remote.test\"@example.test>",
        "<friend@remote.test@example.test>",
        "<friend@example.test.>",
        "<friend@example.test.remote.test>",
        "<friend@[127.0.0.1]>",
        "<friend@[IPv6:::1]>",
        "<friend@remote.test> NOTIFY=NEVER",
        "friend@remote.test",
    ];

    [Theory]
    [MemberData(nameof(Tricks))]
    public void Untrusted_client_never_gets_a_remote_destination(string argument)
    {
        foreach (var policy in new[] { Policy, PolicyWithCatchAll })
        {
            var rcpt = CommandParser.ParseRcpt(Encoding.UTF8.GetBytes("TO:" + argument), smtpUtf8: false, new MailAddress("postmaster", "example.test"), out var error);
            if (rcpt is null)
            {
                Assert.True(error!.IsPermanent, $"{argument}: {error}");
                continue;
            }
            var decision = policy.Decide(rcpt.Recipient, mayRelay: false);
            Assert.DoesNotContain(decision.Destinations, d => d is Destination.Remote);
            if (!decision.Accepted) Assert.True(decision.Reply.Code is 554 or 550, $"{argument}: {decision.Reply}");
        }
    }

    [Fact]
    public void Percent_hack_at_a_local_domain_stays_local_even_with_a_catch_all()
    {
        var decision = PolicyWithCatchAll.Decide(new MailAddress("friend%remote.test", "example.test"), mayRelay: false);
        Assert.True(decision.Accepted);
        Assert.Equal([new Destination.Mailbox("alice@example.test")], decision.Destinations);
    }

    [Fact]
    public void Remote_domain_is_refused_554_5_7_1_for_untrusted_and_relayed_for_trusted_or_authenticated()
    {
        var address = new MailAddress("friend", "remote.test");
        var refused = Policy.Decide(address, mayRelay: false);
        Assert.Equal(554, refused.Reply.Code);
        Assert.Equal("5.7.1", refused.Reply.Enhanced);
        var relayed = Policy.Decide(address, mayRelay: true);
        Assert.Equal([new Destination.Remote("friend@remote.test", "remote.test")], relayed.Destinations);
    }
}
