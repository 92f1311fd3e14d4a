using Router.Actors.Routing;
using Router.Protocol;

namespace Router.Actors.Tests.Routing;

/// <summary>
/// RFC 5321 s4.5.1: postmaster@ every local domain takes mail, by default the way of
/// router.postmaster; the start (and a reload) warns when router.postmaster reaches no mailbox.
/// </summary>
public sealed class PostmasterTests
{
    [Fact]
    public void A_postmaster_that_is_no_mailbox_nor_alias_is_a_problem_named_in_the_warning()
    {
        var policy = new RoutingPolicy(Security.TestSettings.Create());
        Assert.Contains("router.postmaster postmaster@example.test is neither a local mailbox nor an alias", policy.PostmasterProblem(new("postmaster", "example.test")));
    }

    private static RoutingPolicy TwoDomains(Func<Router.Actors.Configuration.RouterSettings, Router.Actors.Configuration.RouterSettings>? change = null) =>
        new(Security.TestSettings.Create(s =>
        {
            var two = s with
            {
                LocalDomains = new HashSet<string> { "example.test", "other.test" },
                Mailboxes = new HashSet<string> { "alice@example.test", "bob@other.test", "carol@other.test" },
                Postmaster = "alice@example.test",
            };
            return change is null ? two : change(two);
        }));

    private static Destination[] Route(RoutingPolicy policy, MailAddress recipient)
    {
        var decision = policy.Decide(recipient, mayRelay: false);
        Assert.True(decision.Accepted, $"{recipient} refused: {decision.Reply}");
        return decision.Destinations.ToArray();
    }

    [Theory]
    [InlineData("postmaster", "example.test")]
    [InlineData("postmaster", "other.test")]
    [InlineData("PostMaster", "OTHER.test")]
    public void Postmaster_at_a_local_domain_without_a_mailbox_or_alias_goes_to_router_postmaster(string local, string domain) =>
        Assert.Equal([new Destination.Mailbox("alice@example.test")], Route(TwoDomains(), new MailAddress(local, domain)));

    [Fact]
    public void Postmaster_with_its_own_alias_or_mailbox_keeps_it()
    {
        var policy = TwoDomains(s => s with
        {
            Mailboxes = new HashSet<string>(s.Mailboxes) { "postmaster@example.test" },
            Aliases = new Dictionary<string, IReadOnlyList<string>> { ["postmaster@other.test"] = ["bob@other.test"] },
        });
        Assert.Equal([new Destination.Mailbox("postmaster@example.test")], Route(policy, new MailAddress("postmaster", "example.test")));
        Assert.Equal([new Destination.Mailbox("bob@other.test")], Route(policy, new MailAddress("postmaster", "other.test")));
    }

    [Fact]
    public void Postmaster_goes_to_router_postmaster_rather_than_the_catch_all()
    {
        var policy = TwoDomains(s => s with { CatchAll = new Dictionary<string, string> { ["other.test"] = "carol@other.test" } });
        Assert.Equal([new Destination.Mailbox("alice@example.test")], Route(policy, new MailAddress("postmaster", "other.test")));
    }

    [Fact]
    public void Postmaster_of_a_domain_that_is_not_local_is_not_ours()
    {
        var decision = TwoDomains().Decide(new MailAddress("postmaster", "remote.test"), mayRelay: false);
        Assert.False(decision.Accepted);
        Assert.Same(Replies.RelayDenied, decision.Reply);
    }

    [Theory]
    [InlineData("alice@example.test")]
    [InlineData("team@example.test")]
    [InlineData("alice+postmaster@example.test")]
    public void A_mailbox_or_an_alias_of_one_is_fine(string postmaster)
    {
        var settings = Security.TestSettings.Create() with { Postmaster = postmaster };
        Assert.Null(new RoutingPolicy(settings).PostmasterProblem(settings.PostmasterAddress));
    }
}
