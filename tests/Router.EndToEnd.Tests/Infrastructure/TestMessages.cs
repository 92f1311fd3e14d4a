using System.Text;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>Small RFC 5322 messages marked with a unique token, so a test finds its own message among others.</summary>
public static class TestMessages
{
    public static string NewToken() => "t" + Guid.NewGuid().ToString("N")[..20];

    /// <summary>A message whose Subject and Message-ID carry the token; CRLF line endings; ends with CRLF.</summary>
    public static byte[] Create(string token, string to = "alice@example.test", string body = "Hello from the tests.\r\n") =>
        Encoding.ASCII.GetBytes(
            $"From: <sender@remote.test>\r\nTo: <{to}>\r\nSubject: test {token}\r\nMessage-ID: <{token}@remote.test>\r\n" +
            $"Date: Sun, 29 Nov 2026 15:00:00 +0000\r\n\r\n{body}");

    /// <summary>The Message-ID value (without brackets) of a stored or sent message, or null.</summary>
    public static string? MessageId(byte[] message)
    {
        var text = Encoding.ASCII.GetString(message);
        var start = text.IndexOf("\r\nMessage-ID: <", StringComparison.OrdinalIgnoreCase);
        if (start < 0) return null;
        start += "\r\nMessage-ID: <".Length;
        var end = text.IndexOf('>', start);
        return end < 0 ? null : text[start..end];
    }

    /// <summary>MAIL, RCPT..., DATA, the body and the final dot, expecting <paramref name="final"/> for the message.</summary>
    /// <summary>The queue id in the router's reply to the final dot ("250 2.0.0 Ok: queued as ID"), as its log lines name the message.</summary>
    public static string QueueIdOf(SmtpResponse reply)
    {
        var match = System.Text.RegularExpressions.Regex.Match(reply.Text, @"queued as ([0-9A-Za-z]+)");
        Assert.True(match.Success, $"no queue id in the reply: {reply}");
        return match.Groups[1].Value;
    }

    public static async Task<SmtpResponse> SendAsync(SmtpDialog dialog, byte[] message, string from, IEnumerable<string> to, string final = "250")
    {
        await dialog.CommandAsync($"MAIL FROM:<{from}>", "250");
        foreach (var rcpt in to) await dialog.CommandAsync($"RCPT TO:<{rcpt}>", "250");
        await dialog.CommandAsync("DATA", "354");
        await dialog.SendAsync(message);
        await dialog.SendAsync(".\r\n");
        return await dialog.ExpectAsync(final);
    }
}
