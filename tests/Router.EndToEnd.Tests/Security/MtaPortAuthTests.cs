using System.Net;
using System.Text;
using Router.Actors.Security;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// AUTH on the MTA port, as Postfix's smtpd_sasl_auth_enable: off by default, so port 25 (mail
/// from other servers) neither offers AUTH nor takes it (502 5.5.1, before or under TLS) and a
/// password guesser finds nothing there (the submission ports keep it, see <see cref="AuthTests"/>);
/// <c>router.smtp.mta-auth = on</c> offers it on the MTA port too.
/// </summary>
[Collection(SecurityRouterCollection.Name)]
public sealed class MtaPortAuthTests(SecurityRouterFixture fixture)
{
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.171");

    private static string Plain(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));

    [Fact]
    public async Task The_MTA_port_neither_offers_nor_takes_AUTH_by_default()
    {
        var alice = Plain("alice@example.test", SecurityRouterFixture.AlicePassword);
        await using var dialog = await TlsDialog.ConnectAsync(fixture.Router.Port, Client);
        await dialog.ExpectAsync("220");
        await dialog.CommandAsync("EHLO client.test", "250");
        await dialog.CommandAsync("AUTH PLAIN " + alice, "502 5.5.1");

        await dialog.StartTlsAsync();
        var ehlo = await dialog.CommandAsync("EHLO client.test", "250");
        Assert.DoesNotContain(ehlo.Lines, l => l.Contains("AUTH", StringComparison.Ordinal));
        await dialog.CommandAsync("AUTH PLAIN " + alice, "502 5.5.1");
        await dialog.CommandAsync("AUTH LOGIN", "502 5.5.1");

        // The right password did not make the client a user: it still may not relay.
        await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "250");
        await dialog.CommandAsync("RCPT TO:<friend@remote.test>", "554 5.7.1");
    }

    [Fact]
    public async Task Mta_auth_on_offers_and_takes_AUTH_on_the_MTA_port()
    {
        var folder = Directory.CreateTempSubdirectory("router-mta-auth-");
        try
        {
            var users = Path.Combine(folder.FullName, "users");
            new UserStore(users).Set("alice@example.test", SecurityRouterFixture.AlicePassword, iterations: 1000);
            using var router = await RouterProcess.StartAsync(new RouterOptions
            {
                TrustedNetworks = ["127.0.0.1/32"],
                ExtraHocon = $$"""
                    router {
                      smtp.mta-auth = on
                      auth.users-file = "{{users}}"
                    }
                    """,
            });
            Assert.DoesNotContain("mta-auth", router.Output, StringComparison.Ordinal); // a known setting: no warning

            await using var dialog = await TlsDialog.ConnectWithStartTlsAsync(router.Port, Client);
            var ehlo = await dialog.CommandAsync("EHLO client.test", "250");
            Assert.Contains(ehlo.Lines, l => l.EndsWith("AUTH PLAIN LOGIN", StringComparison.Ordinal));
            await dialog.CommandAsync("AUTH PLAIN " + Plain("alice@example.test", SecurityRouterFixture.AlicePassword), "235 2.7.0");
            await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "250");
            await dialog.CommandAsync("RCPT TO:<friend@remote.test>", "250");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
