using System.Buffers.Text;
using System.Text;

namespace Router.Protocol;

/// <summary>
/// Parses one SMTP command line (without its CRLF) into a verb and its arguments (RFC 5321 s4.1.1).
/// Verb recognition works on the bytes with no allocation; only addresses and parameters that
/// the session keeps become strings. Errors are replies, never exceptions.
/// </summary>
public static class CommandParser
{
    /// <summary>
    /// Longest command line taken, CRLF included; longer ones get 500 5.5.2. RFC 5321 s4.5.3.1.4's
    /// 512 octets grow with the extensions we offer (RFC 3461 s4: ORCPT and NOTIFY add 500 to
    /// RCPT, ENVID and RET 100 to MAIL; RFC 1870 SIZE 26; RFC 4954 s5 AUTH= 500), and one
    /// ORCPT may itself be 500 octets: 2048, as Postfix's line_length_limit.
    /// </summary>
    public const int MaxCommandLine = 2048;

    public static SmtpVerb ParseVerb(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> argument)
    {
        var space = line.IndexOf((byte)' ');
        var verb = space < 0 ? line : line[..space];
        argument = space < 0 ? default : line[(space + 1)..];
        if (verb.Length is < 4 or > 8) return SmtpVerb.Unknown;

        // Fold the ASCII letters to upper case in a small stack buffer: the comparison is then exact.
        Span<byte> upper = stackalloc byte[8];
        for (var i = 0; i < verb.Length; i++)
        {
            var b = verb[i];
            upper[i] = (uint)(b - 'a') <= 'z' - 'a' ? (byte)(b - 0x20) : b;
        }
        var v = upper[..verb.Length];
        return v.Length switch
        {
            4 when v.SequenceEqual("EHLO"u8) => SmtpVerb.Ehlo,
            4 when v.SequenceEqual("HELO"u8) => SmtpVerb.Helo,
            4 when v.SequenceEqual("MAIL"u8) => SmtpVerb.Mail,
            4 when v.SequenceEqual("RCPT"u8) => SmtpVerb.Rcpt,
            4 when v.SequenceEqual("DATA"u8) => SmtpVerb.Data,
            4 when v.SequenceEqual("BDAT"u8) => SmtpVerb.Bdat,
            4 when v.SequenceEqual("RSET"u8) => SmtpVerb.Rset,
            4 when v.SequenceEqual("NOOP"u8) => SmtpVerb.Noop,
            4 when v.SequenceEqual("QUIT"u8) => SmtpVerb.Quit,
            4 when v.SequenceEqual("HELP"u8) => SmtpVerb.Help,
            4 when v.SequenceEqual("VRFY"u8) => SmtpVerb.Vrfy,
            4 when v.SequenceEqual("EXPN"u8) => SmtpVerb.Expn,
            4 when v.SequenceEqual("VERB"u8) => SmtpVerb.Verb,
            4 when v.SequenceEqual("AUTH"u8) => SmtpVerb.Auth,
            8 when v.SequenceEqual("STARTTLS"u8) => SmtpVerb.StartTls,
            _ => SmtpVerb.Unknown,
        };
    }

    /// <summary>True when the line holds a byte no command may contain (NUL, other controls but TAB, DEL).</summary>
    public static bool HasControlCharacters(ReadOnlySpan<byte> line)
    {
        foreach (var b in line)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7f) return true;
        }
        return false;
    }

    /// <summary>
    /// Parses the argument of HELO/EHLO. Returns the name, or null with the reply to send. Words
    /// after the name are ignored, as Postfix does; a control character anywhere (TAB included)
    /// is refused, as is an empty argument.
    /// </summary>
    public static string? ParseHelo(ReadOnlySpan<byte> argument, out SmtpReply? error)
    {
        var words = argument.Trim((byte)' ');
        var space = words.IndexOf((byte)' ');
        var name = space < 0 ? words : words[..space];
        if (HasControlCharacters(argument) || argument.IndexOf((byte)'\t') >= 0 || !AddressParser.IsHeloName(name))
        {
            error = Replies.BadHeloSyntax;
            return null;
        }
        error = null;
        return Encoding.UTF8.GetString(name);
    }

    /// <summary>Parses the argument of MAIL: <c>FROM:&lt;path&gt; [params]</c> (RFC 5321 s4.1.1.2).</summary>
    public static MailCommand? ParseMail(ReadOnlySpan<byte> argument, bool utf8Offered, out SmtpReply? error)
    {
        if (!StripKeyword(argument, "FROM:"u8, out var rest))
        {
            error = Replies.SyntaxError;
            return null;
        }
        if (!AddressParser.TryParsePath(rest, allowUtf8: true, allowNull: true, out var address, out var used))
        {
            error = Replies.BadSenderSyntax;
            return null;
        }
        // SMTPUTF8 decides whether a UTF-8 path is legal, and it comes after the path: look ahead.
        var smtpUtf8 = utf8Offered && ContainsParameter(rest[used..], "SMTPUTF8"u8);
        if (address is { IsUtf8: true } && !smtpUtf8)
        {
            error = Replies.Utf8NotDeclared;
            return null;
        }

        long? size = null;
        var body = BodyType.SevenBit;
        var ret = DsnReturn.None;
        string? envId = null;
        var seen = 0;
        foreach (var (key, value) in Parameters(rest[used..]))
        {
            var known = Known(key, MailKeys);
            var valid = false;
            switch (known)
            {
                case 0: // SIZE
                    // RFC 1870: size-value = 1*20DIGIT (no sign, which Utf8Parser would take).
                    valid = Utf8Parser.TryParse(value, out long n, out var c) && c == value.Length && char.IsAsciiDigit((char)value[0]);
                    size = n;
                    break;
                case 1: // BODY
                    valid = Is(value, "8BITMIME"u8) || Is(value, "7BIT"u8);
                    body = Is(value, "8BITMIME"u8) ? BodyType.EightBitMime : BodyType.SevenBit;
                    break;
                case 2: // SMTPUTF8; where it is not offered, an unknown parameter (555)
                    if (!utf8Offered) known = -1;
                    valid = value.IsEmpty && utf8Offered;
                    break;
                case 3: // RET
                    valid = Is(value, "FULL"u8) || Is(value, "HDRS"u8);
                    ret = Is(value, "FULL"u8) ? DsnReturn.Full : DsnReturn.Headers;
                    break;
                case 4: // ENVID
                    valid = value.Length is > 0 and <= 100 && IsXtext(value);
                    envId = Encoding.ASCII.GetString(value);
                    break;
                case 5: // AUTH (RFC 4954 s5): accepted, not trusted.
                    valid = !value.IsEmpty && IsXtext(value);
                    break;
            }
            if (!valid || (seen & (1 << known)) != 0)
            {
                // A parameter we do not know is 555; one we know, given twice or with a bad value, 501 (as Postfix).
                error = key.IsEmpty || known >= 0 ? Replies.SyntaxError : Replies.UnknownParameter;
                return null;
            }
            seen |= 1 << known;
        }
        error = null;
        return new MailCommand(address, size, body, smtpUtf8, ret, envId);
    }

    /// <summary>
    /// Parses the argument of RCPT: <c>TO:&lt;path&gt; [params]</c>, or <c>TO:&lt;Postmaster&gt;</c>,
    /// which becomes <paramref name="postmaster"/> (the address the operator has it delivered to).
    /// </summary>
    public static RcptCommand? ParseRcpt(ReadOnlySpan<byte> argument, bool smtpUtf8, MailAddress postmaster, out SmtpReply? error)
    {
        if (!StripKeyword(argument, "TO:"u8, out var rest))
        {
            error = Replies.SyntaxError;
            return null;
        }
        MailAddress? address;
        int used;
        var barePostmaster = rest.Length >= 12 && Is(rest[..12], "<POSTMASTER>"u8);
        if (barePostmaster)
        {
            // RFC 5321 s4.1.1.3: "Postmaster" without a domain must be accepted.
            address = postmaster;
            used = 12;
        }
        else if (!AddressParser.TryParsePath(rest, allowUtf8: true, allowNull: false, out address, out used) || address is null)
        {
            error = Replies.BadRecipientSyntax;
            return null;
        }
        if (address.IsUtf8 && !smtpUtf8)
        {
            error = Replies.Utf8NotDeclared;
            return null;
        }

        var notify = DsnNotify.None;
        string? orcpt = null;
        var seen = 0;
        foreach (var (key, value) in Parameters(rest[used..]))
        {
            var known = Known(key, RcptKeys);
            var valid = false;
            switch (known)
            {
                case 0: // NOTIFY
                    valid = TryParseNotify(value, out notify);
                    break;
                case 1: // ORCPT
                    valid = IsOriginalRecipient(value);
                    orcpt = Encoding.UTF8.GetString(value);
                    break;
            }
            if (!valid || (seen & (1 << known)) != 0)
            {
                error = key.IsEmpty || known >= 0 ? Replies.SyntaxError : Replies.UnknownParameter;
                return null;
            }
            seen |= 1 << known;
        }
        error = null;
        return new RcptCommand(address, notify, orcpt, barePostmaster);
    }

    /// <summary>Parses <c>BDAT size [LAST]</c> (RFC 3030 s2).</summary>
    public static bool TryParseBdat(ReadOnlySpan<byte> argument, out long size, out bool last)
    {
        last = false;
        var space = argument.IndexOf((byte)' ');
        var number = space < 0 ? argument : argument[..space];
        if (!Utf8Parser.TryParse(number, out size, out var used) || used != number.Length || size < 0 || number.IsEmpty) return false;
        if (space < 0) return true;
        var tail = argument[(space + 1)..];
        last = Is(tail, "LAST"u8);
        return last;
    }

    private static bool TryParseNotify(ReadOnlySpan<byte> value, out DsnNotify flags)
    {
        flags = DsnNotify.None;
        foreach (var range in value.Split((byte)','))
        {
            var word = value[range];
            if (Is(word, "NEVER"u8)) flags |= DsnNotify.Never;
            else if (Is(word, "SUCCESS"u8)) flags |= DsnNotify.Success;
            else if (Is(word, "FAILURE"u8)) flags |= DsnNotify.Failure;
            else if (Is(word, "DELAY"u8)) flags |= DsnNotify.Delay;
            else return false;
        }
        // NEVER excludes the others (RFC 3461 s4.1).
        return flags != DsnNotify.None && (flags == DsnNotify.Never || (flags & DsnNotify.Never) == 0);
    }

    private static bool StripKeyword(ReadOnlySpan<byte> argument, ReadOnlySpan<byte> keyword, out ReadOnlySpan<byte> rest)
    {
        rest = default;
        if (argument.Length < keyword.Length || !Is(argument[..keyword.Length], keyword)) return false;
        // Many clients write "MAIL FROM: <a@b>"; like Postfix we allow spaces after the colon.
        rest = argument[keyword.Length..].TrimStart((byte)' ');
        return true;
    }

    private static bool ContainsParameter(ReadOnlySpan<byte> parameters, ReadOnlySpan<byte> name)
    {
        // Searched after the parsed path: a quoted local part may itself hold a '>'.
        foreach (var (key, value) in Parameters(parameters))
        {
            if (Is(key, name) && value.IsEmpty) return true;
        }
        return false;
    }

    /// <summary>Splits <c>" KEY[=VALUE] KEY[=VALUE]"</c>; an empty key marks a syntax error.</summary>
    private static ParameterEnumerator Parameters(ReadOnlySpan<byte> s) => new(s);

    private static bool Is(ReadOnlySpan<byte> s, ReadOnlySpan<byte> upperAscii)
    {
        if (s.Length != upperAscii.Length) return false;
        for (var i = 0; i < s.Length; i++)
        {
            var b = s[i];
            if ((uint)(b - 'a') <= 'z' - 'a') b -= 0x20;
            if (b != upperAscii[i]) return false;
        }
        return true;
    }

    private static readonly string[] MailKeys = ["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"];
    private static readonly string[] RcptKeys = ["NOTIFY", "ORCPT"];

    /// <summary>The index of <paramref name="key"/> among <paramref name="keys"/> (case-insensitive), or -1.</summary>
    private static int Known(ReadOnlySpan<byte> key, string[] keys)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            if (key.Length == keys[i].Length && Ascii.EqualsIgnoreCase(key, keys[i])) return i;
        }
        return -1;
    }

    // RFC 3461 s4: xtext = *( xchar / hexchar ), xchar = "!" .. "~" except "+" and "=",
    // hexchar = "+" and two upper-case hexadecimal digits.
    private static bool IsXtext(ReadOnlySpan<byte> s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            var b = s[i];
            if (b == (byte)'+')
            {
                if (i + 2 >= s.Length || !IsUpperHex(s[i + 1]) || !IsUpperHex(s[i + 2])) return false;
                i += 2;
            }
            else if (b is < 33 or > 126 or (byte)'=') return false;
        }
        return true;
    }

    private static bool IsUpperHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'A' and <= (byte)'F';

    /// <summary>
    /// ORCPT = addr-type ";" xtext (RFC 3461 s4.2), at most 500 octets; the "utf-8" type of RFC 6533
    /// carries UTF-8 as it is. Whatever is accepted here is passed on to the next hop as given.
    /// </summary>
    private static bool IsOriginalRecipient(ReadOnlySpan<byte> value)
    {
        var semi = value.IndexOf((byte)';');
        if (semi <= 0 || value.Length > 500) return false;
        foreach (var b in value[..semi])
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b == (byte)'-')) return false;
        }
        var address = value[(semi + 1)..];
        return !address.IsEmpty && (Is(value[..semi], "UTF-8"u8) ? !HasControlCharacters(address) : IsXtext(address));
    }

    public ref struct ParameterEnumerator
    {
        private ReadOnlySpan<byte> _rest;
        private bool _broken;

        public ParameterEnumerator(ReadOnlySpan<byte> rest)
        {
            _rest = rest;
            _broken = false;
            Current = default;
        }

        public Parameter Current { get; private set; }

        public readonly ParameterEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_broken) return false;
            if (_rest.IsEmpty) return false;
            if (_rest[0] != (byte)' ')
            {
                // Text glued to the path, e.g. "<a@b>x": a syntax error reported as an empty key.
                Current = default;
                _broken = true;
                return true;
            }
            _rest = _rest.TrimStart((byte)' ');
            if (_rest.IsEmpty) return false;
            var end = _rest.IndexOf((byte)' ');
            var token = end < 0 ? _rest : _rest[..end];
            _rest = end < 0 ? default : _rest[end..];
            var eq = token.IndexOf((byte)'=');
            Current = eq < 0 ? new Parameter(token, default) : new Parameter(token[..eq], token[(eq + 1)..]);
            if (Current.Key.IsEmpty) _broken = true;
            return true;
        }
    }

    /// <summary>One ESMTP parameter: <c>KEY</c> or <c>KEY=VALUE</c>.</summary>
    public readonly ref struct Parameter(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        public ReadOnlySpan<byte> Key { get; } = key;
        public ReadOnlySpan<byte> Value { get; } = value;

        public void Deconstruct(out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
        {
            key = Key;
            value = Value;
        }
    }
}
