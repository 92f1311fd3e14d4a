using Router.Actors.Routing;
using Router.Protocol;

namespace Router.Actors.Tests.Routing;

/// <summary>
/// RFC 3461 s6.2.7.3: an alias passes the client's NOTIFY and ORCPT on to the remote addresses it
/// expands to, without SUCCESS when it has several (the sender gets one "expanded" notice), and
/// names itself as the original recipient when the client gave no ORCPT.
/// </summary>
public sealed class AliasTargetsTests
{
    private static readonly MailAddress Alias = new("team", "example.test");
    private static readonly Destination Bob = new Destination.Mailbox("bob@example.test");
    private static readonly Destination Dave = new Destination.Remote("dave@remote.test", "remote.test");
    private static readonly Destination Erin = new Destination.Remote("erin@other.test", "other.test");

    [Fact]
    public void A_one_to_one_alias_passes_NOTIFY_on_and_names_itself_in_ORCPT()
    {
        var forwarded = Assert.Single(AliasTargets.AddForwarded(new RcptCommand(Alias, DsnNotify.Success | DsnNotify.Failure, null), [Dave], null)!);

        Assert.Equal(new MailAddress("dave", "remote.test"), forwarded.Recipient);
        Assert.Equal(DsnNotify.Success | DsnNotify.Failure, forwarded.Notify);
        Assert.Equal("rfc822;team@example.test", forwarded.OriginalRecipient);
    }

    [Theory]
    [InlineData(DsnNotify.Success | DsnNotify.Delay, DsnNotify.Delay)]
    [InlineData(DsnNotify.Success, DsnNotify.Never)]
    [InlineData(DsnNotify.Failure, DsnNotify.Failure)]
    [InlineData(DsnNotify.None, DsnNotify.None)]
    public void The_remote_targets_of_an_alias_of_several_lose_SUCCESS_and_keep_the_clients_ORCPT(DsnNotify asked, DsnNotify passed)
    {
        var forwarded = AliasTargets.AddForwarded(new RcptCommand(Alias, asked, "rfc822;x+2By@example.test"), [Bob, Dave, Erin], null)!;

        Assert.Equal(["dave@remote.test", "erin@other.test"], forwarded.Select(f => f.Recipient.ToString()));
        Assert.All(forwarded, f => Assert.Equal(passed, f.Notify));
        Assert.All(forwarded, f => Assert.Equal("rfc822;x+2By@example.test", f.OriginalRecipient));
    }

    [Fact]
    public void A_remote_recipient_that_is_not_an_alias_adds_nothing()
    {
        var rcpt = new RcptCommand(new MailAddress("Dave", "Remote.test"), DsnNotify.Success, null);

        Assert.Null(AliasTargets.AddForwarded(rcpt, [Dave], null));
        Assert.Null(AliasTargets.AddForwarded(new RcptCommand(Alias, DsnNotify.Success, null), [Bob], null));
    }
}
