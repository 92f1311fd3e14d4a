using System.Net;
using System.Text;
using Router.EndToEnd.Tests.Infrastructure;

namespace Router.EndToEnd.Tests.Security;

/// <summary>
/// AUTH in the log as Postfix writes it: a failure names the client, the mechanism and the user
/// name given, never the password nor the base64 exchange (fail2ban's postfix-sasl filter reads
/// this line); the accept line of an authenticated client names its mechanism and user. Each test
/// uses a loopback address of its own (failures are counted per client).
/// </summary>
[Collection(SecurityRouterCollection.Name)]
public sealed class AuthLogTests(SecurityRouterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly RouterProcess _router = fixture.Router;

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("PLAIN", "127.0.0.161")]
    [InlineData("LOGIN", "127.0.0.162")]
    public async Task A_failed_AUTH_logs_the_user_and_mechanism_but_never_the_password(string mechanism, string client)
    {
        var user = "mallory-" + TestMessages.NewToken();
        var password = "Pw-" + TestMessages.NewToken();
        var exchange = new List<string>();
        await using (var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, IPAddress.Parse(client)))
        {
            if (mechanism == "PLAIN")
            {
                exchange.Add(Base64($"\0{user}\0{password}"));
                await dialog.CommandAsync("AUTH PLAIN " + exchange[0], "535 5.7.8");
            }
            else
            {
                exchange.AddRange([Base64(user), Base64(password)]);
                await dialog.CommandAsync("AUTH LOGIN", "334");
                await dialog.CommandAsync(exchange[0], "334");
                await dialog.CommandAsync(exchange[1], "535 5.7.8");
            }
        }

        var line = $"unknown[{client}]: SASL {mechanism} authentication failed: authentication failure (1 in the window), sasl_username={user}";
        await _router.WaitForOutputAsync(line, Deadline);
        Assert.Contains(_router.Output.Split('\n'), l => l.StartsWith("[WARNING]", StringComparison.Ordinal) && l.TrimEnd('\r').EndsWith("] " + line, StringComparison.Ordinal));
        var output = _router.Output;
        Assert.DoesNotContain(password, output, StringComparison.Ordinal);
        foreach (var response in exchange) Assert.DoesNotContain(response, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_accept_line_names_the_SASL_method_and_user()
    {
        string id;
        await using (var dialog = await TlsDialog.ConnectWithStartTlsAsync(fixture.SubmissionPort, IPAddress.Parse("127.0.0.163")))
        {
            await dialog.CommandAsync("AUTH PLAIN " + Base64($"\0alice@example.test\0{SecurityRouterFixture.AlicePassword}"), "235");
            await dialog.CommandAsync("MAIL FROM:<alice@example.test>", "250");
            await dialog.CommandAsync("RCPT TO:<demo@example.test>", "250");
            await dialog.CommandAsync("DATA", "354");
            await dialog.SendAsync(Encoding.ASCII.GetString(TestMessages.Create(TestMessages.NewToken(), to: "demo@example.test")));
            id = TestMessages.QueueIdOf(await dialog.CommandAsync(".", "250"));
        }

        var tail = " client=unknown[127.0.0.163] sasl_method=PLAIN sasl_username=alice@example.test";
        await _router.WaitForOutputAsync(tail, Deadline);
        Assert.Contains(_router.Output.Split('\n'), l => l.Contains($"] {id}: from=<alice@example.test> size=", StringComparison.Ordinal) && l.TrimEnd('\r').EndsWith(tail, StringComparison.Ordinal));
    }
}
