using BenchmarkDotNet.Attributes;
using Router.Protocol;

namespace Router.Benchmarks;

/// <summary>
/// Per-command cost of the SMTP command parser on typical lines. ParseVerb must not allocate;
/// ParseMail/ParseRcpt allocate only what the session keeps: the address strings and the command record.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ProtocolBenchConfig))]
public class CommandParsingBenchmarks
{
    private static readonly byte[] MailLine = "MAIL FROM:<bounces+1234@mailer.example.com> SIZE=48213 BODY=8BITMIME"u8.ToArray();
    private static readonly byte[] RcptLine = "RCPT TO:<john.doe@example.org> NOTIFY=FAILURE,DELAY"u8.ToArray();
    private static readonly byte[] DataLine = "DATA"u8.ToArray();
    private static readonly byte[] MailArgument = MailLine.AsSpan("MAIL ".Length).ToArray();
    private static readonly byte[] RcptArgument = RcptLine.AsSpan("RCPT ".Length).ToArray();

    [Benchmark]
    public SmtpVerb ParseVerb_Mail() => CommandParser.ParseVerb(MailLine, out _);

    [Benchmark]
    public SmtpVerb ParseVerb_Data() => CommandParser.ParseVerb(DataLine, out _);

    [Benchmark]
    public MailCommand? ParseMail() => CommandParser.ParseMail(MailArgument, utf8Offered: true, out _);

    private static readonly MailAddress Postmaster = new("postmaster", "mx.example");

    [Benchmark]
    public RcptCommand? ParseRcpt() => CommandParser.ParseRcpt(RcptArgument, smtpUtf8: false, Postmaster, out _);

    /// <summary>What the session does per command line: control check, verb, then the argument parser.</summary>
    [Benchmark]
    public RcptCommand? Rcpt_line_end_to_end()
    {
        if (CommandParser.HasControlCharacters(RcptLine)) return null;
        return CommandParser.ParseVerb(RcptLine, out var argument) == SmtpVerb.Rcpt
            ? CommandParser.ParseRcpt(argument, smtpUtf8: false, Postmaster, out _)
            : null;
    }
}
