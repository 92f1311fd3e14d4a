using Router.Actors.Routing;

namespace Router.Actors.Tests.Routing;

/// <summary>RFC 5321 s4.5.1: the start (and a reload) warns when router.postmaster reaches no mailbox.</summary>
public sealed class PostmasterTests
{
    [Fact]
    public void A_postmaster_that_is_no_mailbox_nor_alias_is_a_problem_named_in_the_warning()
    {
        var policy = new RoutingPolicy(Security.TestSettings.Create());
        Assert.Contains("router.postmaster postmaster@example.test is neither a local mailbox nor an alias", policy.PostmasterProblem(new("postmaster", "example.test")));
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
