using System.Net;

namespace Router.Protocol.Client;

/// <summary>
/// Settings of one outbound SMTP connection. The default timeouts are the minimums that
/// RFC 5321 s4.5.3.2 asks a client to wait for each reply; loopback tests shorten them.
/// </summary>
public sealed record SmtpClientOptions
{
    public static SmtpClientOptions Default { get; } = new();

    /// <summary>The name sent in EHLO/HELO (RFC 5321 s4.1.1.1): our FQDN or an address literal.</summary>
    public string LocalHostName { get; init; } = "localhost";

    /// <summary>Local address to bind before connecting, e.g. a dedicated sending IP; null lets the OS choose.</summary>
    public IPEndPoint? LocalEndPoint { get; init; }

    /// <summary>When false the client never pipelines, even if the peer offers PIPELINING (RFC 2920).</summary>
    public bool UsePipelining { get; init; } = true;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Initial 220 message: 5 minutes (s4.5.3.2.1).</summary>
    public TimeSpan GreetingTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>EHLO, HELO, STARTTLS (with its handshake), AUTH, RSET, NOOP and QUIT.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>MAIL command: 5 minutes (s4.5.3.2.2).</summary>
    public TimeSpan MailTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>RCPT command: 5 minutes (s4.5.3.2.3).</summary>
    public TimeSpan RcptTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>DATA initiation (waiting for 354): 2 minutes (s4.5.3.2.4).</summary>
    public TimeSpan DataInitTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Each write of a data block: 3 minutes (s4.5.3.2.5).</summary>
    public TimeSpan DataBlockTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>Waiting for the reply to the final dot: 10 minutes (s4.5.3.2.6).</summary>
    public TimeSpan DataTerminationTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Longest reply line accepted, CRLF included (RFC 5321 s4.5.3.1.5 says 512; peers exceed it).</summary>
    public int MaxReplyLineLength { get; init; } = 2048;

    /// <summary>Most lines in one multi-line reply; a peer that sends more is broken or hostile.</summary>
    public int MaxReplyLines { get; init; } = 100;
}
