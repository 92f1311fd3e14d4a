using System.Net;
using Akka.Event;
using Router.Actors.Admin;
using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>
/// The maillog lines of one SMTP session, in Postfix's wording (README "Logs"): connect and
/// disconnect with the command counts, refusals ("NOQUEUE: reject: RCPT from unknown[ip]: ..."),
/// lost connections and timeouts, AUTH failures, the accept line and each local delivery. It keeps
/// what those lines name: where the session is, the transaction a refusal belongs to, the client.
/// The counters that mirror refusal lines (<see cref="RouterMetrics"/>: refused recipients, AUTH
/// failures) are counted here, with their lines, so that a log and /metrics always agree.
/// </summary>
internal sealed class SessionLog(ILoggingAdapter log, IPAddress client)
{
    /// <summary>The client as Postfix names it, "unknown[ip]" (no reverse lookup is made), formatted once.</summary>
    private readonly string _client = $"unknown[{client}]";
    private readonly CommandCounts _commands = new();

    /// <summary>The accept line's client: <see cref="_client"/>, then with "sasl_method=PLAIN sasl_username=alice" once the client authenticated.</summary>
    private string? _clientAndUser;

    /// <summary>Postfix's name for where the session is (CONNECT, EHLO, MAIL, RCPT, DATA, END-OF-MESSAGE...), for refusal and lost-connection lines.</summary>
    private string _where = "CONNECT";

    /// <summary>The MAIL command that the command being answered belongs to, if any.</summary>
    private MailCommand? _mailFrom;

    /// <summary>The RCPT address being answered (the last recipient at END-OF-MESSAGE).</summary>
    private MailAddress? _rcptTo;

    /// <summary>The queue id of the message being answered at END-OF-MESSAGE, once it has one.</summary>
    private string? _queueId;

    public void Connected() => log.Info("connect from {0}", _client);

    public void Disconnected() => log.Info("disconnect from {0} {1}", _client, _commands);

    /// <summary>A command starts: counted for the disconnect line, it names where the session is and which transaction (<paramref name="mail"/>) a refusal belongs to.</summary>
    public void Command(SmtpVerb verb, MailCommand? mail)
    {
        _commands.Given(verb);
        _where = verb switch
        {
            SmtpVerb.Helo => "HELO",
            SmtpVerb.Ehlo => "EHLO",
            SmtpVerb.Mail => "MAIL",
            SmtpVerb.Rcpt => "RCPT",
            SmtpVerb.Data => "DATA",
            SmtpVerb.Bdat => "BDAT",
            SmtpVerb.Rset => "RSET",
            SmtpVerb.Noop => "NOOP",
            SmtpVerb.Quit => "QUIT",
            SmtpVerb.Help => "HELP",
            SmtpVerb.Vrfy => "VRFY",
            SmtpVerb.Expn => "EXPN",
            SmtpVerb.Verb => "VERB",
            SmtpVerb.StartTls => "STARTTLS",
            SmtpVerb.Auth => "AUTH",
            _ => "UNKNOWN",
        };
        _mailFrom = mail;
        _rcptTo = null;
        _queueId = null;
    }

    /// <summary>The MAIL command being answered.</summary>
    public void Mail(MailCommand mail) => _mailFrom = mail;

    /// <summary>The RCPT address being answered.</summary>
    public void Rcpt(MailAddress recipient) => _rcptTo = recipient;

    /// <summary>The end of a message's data is being answered; <paramref name="lastRecipient"/> is named in a refusal.</summary>
    public void EndOfMessage(MailAddress lastRecipient)
    {
        _where = "END-OF-MESSAGE";
        _rcptTo = lastRecipient;
    }

    /// <summary>
    /// A refusal counts against the command (the disconnect line) and, in a mail transaction, is
    /// logged as Postfix logs it:
    /// "NOQUEUE: reject: RCPT from unknown[ip]: 554 5.7.1 Relay access denied; from=&lt;a&gt; to=&lt;b&gt; proto=ESMTP helo=&lt;h&gt;"
    /// (the queue id instead of NOQUEUE when the message had one).
    /// </summary>
    public void Refused(SmtpReply reply, bool esmtp, string? helo)
    {
        _commands.Refused();
        if (_where is not ("MAIL" or "RCPT" or "DATA" or "BDAT" or "END-OF-MESSAGE")) return;
        if (_where == "RCPT") RouterMetrics.RecipientRejected();
        var from = _mailFrom is { } mail ? $" from=<{mail.ReversePath}>" : "";
        var to = _rcptTo is { } rcpt ? $" to=<{rcpt}>" : "";
        var envelope = $"{from}{to} proto={(esmtp ? "ESMTP" : "SMTP")} helo=<{helo}>";
        log.Info("{0}: reject: {1} from {2}: {3};{4}", _queueId ?? "NOQUEUE", _where, _client, reply, envelope);
    }

    public void TooManyErrors() => log.Info("too many errors after {0} from {1}", _where, _client);

    /// <summary>The client went away without QUIT (Postfix: "lost connection after RCPT from unknown[ip]").</summary>
    public void LostConnection() => log.Info("lost connection after {0} from {1}", _where, _client);

    public void Timeout() => log.Info("timeout after {0} from {1}", _where, _client);

    public void Authenticated(string mechanism, string user)
    {
        _clientAndUser = $"{_client} sasl_method={mechanism} sasl_username={user}";
        log.Info("session {0}: authenticated as {1}", client, user);
    }

    /// <summary>Postfix's wording, which fail2ban's filters know; the name the client gave, never its password.</summary>
    public void AuthenticationFailed(string mechanism, string user, int failures)
    {
        RouterMetrics.AuthFailed();
        log.Warning("{0}: SASL {1} authentication failed: authentication failure ({2} in the window), sasl_username={3}",
            _client, mechanism, failures, Printable(user));
    }

    /// <summary>The accept line, once the message is handed to its owners under <paramref name="queueId"/>.</summary>
    public void Accepted(string queueId, MailCommand mail, int size, int recipients)
    {
        _queueId = queueId;
        log.Info("{0}: from=<{1}> size={2} nrcpt={3} client={4}", queueId, mail.ReversePath, size, recipients, _clientAndUser ?? _client);
    }

    /// <summary>
    /// Postfix's delivery line for each local mailbox copy, once every owner confirmed it durable
    /// (the 250 is decided): "ID: to=&lt;mailbox&gt; relay=maildir status=Sent (delivered to maildir)",
    /// with "orig_to=&lt;rcpt&gt;" when the RCPT address was another (an alias, an extension, a catch-all,
    /// a bare "postmaster"): <see cref="OrigTo"/>.
    /// </summary>
    public void Delivered(string queueId, IReadOnlyList<(string Mailbox, string? OrigTo)> mailboxes)
    {
        foreach (var (key, origTo) in mailboxes)
        {
            if (origTo is null) log.Info("{0}: to=<{1}> relay=maildir status=Sent (delivered to maildir)", queueId, key);
            else log.Info("{0}: to=<{1}> orig_to=<{2}> relay=maildir status=Sent (delivered to maildir)", queueId, key, origTo);
        }
    }

    /// <summary>What a delivery line gives as orig_to for <paramref name="rcpt"/> reaching <paramref name="mailbox"/>: null when it is the mailbox itself.</summary>
    public static string? OrigTo(RcptCommand rcpt, string mailbox) =>
        rcpt.BarePostmaster ? "postmaster" : rcpt.Recipient.Is(mailbox) ? null : rcpt.Recipient.ToString();

    /// <summary>A name the client chose, with control characters replaced, so that it cannot forge log lines.</summary>
    private static string Printable(string text)
    {
        foreach (var c in text)
        {
            if (char.IsControl(c)) return string.Create(text.Length, text, (span, s) =>
            {
                for (var i = 0; i < s.Length; i++) span[i] = char.IsControl(s[i]) ? '?' : s[i];
            });
        }
        return text;
    }
}
