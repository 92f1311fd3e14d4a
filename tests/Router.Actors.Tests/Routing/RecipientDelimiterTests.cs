using Router.Actors.Routing;
using Router.Protocol;

namespace Router.Actors.Tests.Routing;

/// <summary>
/// Address extensions at local domains (Postfix's recipient_delimiter): user+news@domain reaches
/// user@domain's mailbox or alias, unless a mailbox or alias has the whole address, and before
/// the domain's catch-all; an address that starts with the delimiter has no extension.
/// </summary>
public sealed class RecipientDelimiterTests
{
    private static RoutingPolicy Policy(string delimiter = "+", bool catchAll = false) => new(Security.TestSettings.Create(s => s with
    {
        RecipientDelimiter = delimiter,
        Mailboxes = new HashSet<string> { "alice@example.test", "bob@example.test", "bob+exact@example.test", "carol@example.test" },
        Aliases = new Dictionary<string, IReadOnlyList<string>>
        {
            ["team@example.test"] = ["alice@example.test", "bob@example.test"],
            ["alice+vip@example.test"] = ["carol@example.test"],
            ["friend@remote.test"] = ["carol@example.test"],
        },
        CatchAll = catchAll ? new Dictionary<string, string> { ["example.test"] = "carol@example.test" } : new Dictionary<string, string>(),
    }));

    private static Destination[] Route(RoutingPolicy policy, string local, string domain = "example.test")
    {
        var decision = policy.Decide(new MailAddress(local, domain), mayRelay: false);
        return decision.Accepted ? decision.Destinations.ToArray() : [];
    }

    private static Destination Mailbox(string key) => new Destination.Mailbox(key);

    [Theory]
    [InlineData("alice+news", "alice@example.test")]
    [InlineData("Alice+News", "alice@example.test")]
    [InlineData("alice+news+more", "alice@example.test")]
    [InlineData("alice+", "alice@example.test")]
    [InlineData("bob+exact", "bob+exact@example.test")]
    [InlineData("bob+other", "bob@example.test")]
    [InlineData("alice+vip", "carol@example.test")]
    public void An_extension_reaches_the_mailbox_or_alias_of_the_address_without_it_unless_the_whole_address_has_one(string local, string mailbox) =>
        Assert.Equal([Mailbox(mailbox)], Route(Policy(), local));

    [Fact]
    public void An_alias_without_the_extension_expands()
    {
        Assert.Equal([Mailbox("alice@example.test"), Mailbox("bob@example.test")], Route(Policy(), "team+list"));
        Assert.Equal([Mailbox("carol@example.test")], Route(Policy(), "friend+x", "remote.test"));
    }

    /// <summary>Delivered-To, as Postfix's local(8) writes it: the address as it reached the mailbox.</summary>
    [Theory]
    [InlineData("alice+news", "alice+news@example.test")]
    [InlineData("Alice+News", "alice+news@example.test")]
    [InlineData("bob+exact", "bob+exact@example.test")]
    [InlineData("alice+vip", "carol@example.test")]
    [InlineData("team+list", "alice@example.test", "bob@example.test")]
    [InlineData("nobody+news", "carol@example.test")]
    public void A_mailbox_is_delivered_to_the_recipient_with_its_extension_or_to_the_alias_or_catch_all_target(string local, params string[] deliveredTo) =>
        Assert.Equal(deliveredTo, Route(Policy(catchAll: true), local).Cast<Destination.Mailbox>().Select(m => m.DeliveredTo));

    [Theory]
    [InlineData("+alice")]
    [InlineData("dave+news")]
    public void No_mailbox_behind_the_extension_is_an_unknown_user(string local) =>
        Assert.Equal(550, Policy().Decide(new MailAddress(local, "example.test"), mayRelay: false).Reply.Code);

    [Fact]
    public void The_address_without_its_extension_wins_over_the_catch_all() =>
        Assert.Equal([Mailbox("alice@example.test")], Route(Policy(catchAll: true), "alice+news"));

    [Fact]
    public void Other_delimiters_are_configurable_and_none_turns_extensions_off()
    {
        Assert.Equal([Mailbox("alice@example.test")], Route(Policy("-+"), "alice-news"));
        Assert.Equal([Mailbox("alice@example.test")], Route(Policy("-+"), "alice+news"));
        Assert.Empty(Route(Policy(""), "alice+news"));
        Assert.Equal([Mailbox("carol@example.test")], Route(Policy("", catchAll: true), "alice+news"));
    }
}
