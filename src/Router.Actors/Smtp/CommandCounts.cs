using System.Text;
using Router.Protocol;

namespace Router.Actors.Smtp;

/// <summary>
/// The commands of one session, counted for its disconnect line as Postfix's smtpd counts them:
/// "ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6", each command that was given once or more,
/// "ok/given" where some were refused, in Postfix's order. One command is refused at most once,
/// whatever else its refusal triggers.
/// </summary>
internal sealed class CommandCounts
{
    private static readonly (SmtpVerb Verb, string Name)[] Order =
    [
        (SmtpVerb.Helo, "helo"), (SmtpVerb.Ehlo, "ehlo"), (SmtpVerb.StartTls, "starttls"), (SmtpVerb.Auth, "auth"),
        (SmtpVerb.Mail, "mail"), (SmtpVerb.Rcpt, "rcpt"), (SmtpVerb.Data, "data"), (SmtpVerb.Bdat, "bdat"),
        (SmtpVerb.Rset, "rset"), (SmtpVerb.Noop, "noop"), (SmtpVerb.Vrfy, "vrfy"), (SmtpVerb.Expn, "expn"),
        (SmtpVerb.Help, "help"), (SmtpVerb.Verb, "verb"), (SmtpVerb.Quit, "quit"), (SmtpVerb.Unknown, "unknown"),
    ];

    private static readonly int Size = Enum.GetValues<SmtpVerb>().Length;
    private readonly int[] _given = new int[Size];
    private readonly int[] _refused = new int[Size];
    private SmtpVerb _last;
    private bool _lastRefused;

    /// <summary>A command arrived; it counts as accepted until <see cref="Refused"/> says otherwise.</summary>
    public void Given(SmtpVerb verb)
    {
        _given[(int)verb]++;
        _last = verb;
        _lastRefused = false;
    }

    /// <summary>The last command got a 4xx or 5xx reply.</summary>
    public void Refused()
    {
        if (_lastRefused || _given[(int)_last] == 0) return;
        _lastRefused = true;
        _refused[(int)_last]++;
    }

    /// <summary>"ehlo=1 mail=1 ... commands=N", or "commands=0" for a session that sent none.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        int given = 0, refused = 0;
        foreach (var (verb, name) in Order)
        {
            var n = _given[(int)verb];
            if (n == 0) continue;
            given += n;
            refused += _refused[(int)verb];
            Append(text, name, n, _refused[(int)verb]).Append(' ');
        }
        return Append(text, "commands", given, refused).ToString();
    }

    private static StringBuilder Append(StringBuilder text, string name, int given, int refused)
    {
        text.Append(name).Append('=').Append(given - refused);
        return refused == 0 ? text : text.Append('/').Append(given);
    }
}
