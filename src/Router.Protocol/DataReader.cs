namespace Router.Protocol;

/// <summary>
/// Reads a DATA body (RFC 5321 s4.1.1.4, s4.5.2) or BDAT chunks (RFC 3030) incrementally.
/// DATA ends only on CRLF "." CRLF; a bare CR or LF never ends it nor starts a line, which closes
/// the SMTP smuggling class (CVE-2023-51764/51765/51766). Leading dots are unstuffed. The reader
/// notes bare line endings, NUL bytes, lines over 998 octets, bodies over the size limit and bodies
/// the memory budget cannot hold; once one is seen it keeps reading to the real end but stores
/// nothing more, and the body is refused whole.
/// How bare line endings are treated is a <see cref="BareLineEndings"/> choice; keeping them also keeps
/// NUL bytes and long lines, for a sink that stores exactly what it receives.
/// </summary>
public sealed class DataReader
{
    /// <summary>RFC 5322 s2.1.1: 998 characters, excluding the CRLF.</summary>
    public const int MaxLineLength = 998;

    private readonly long _maxSize;
    private readonly bool _dotTransparency;
    private readonly BareLineEndings _bareLineEndings;
    private State _state;
    private int _lineLength;

    /// <param name="maxSize">Body size limit in octets after unstuffing.</param>
    /// <param name="dotTransparency">True for DATA; false for BDAT, whose chunks are taken as they are.</param>
    /// <param name="bareLineEndings">Refuse the message on a bare CR or LF, store it as CRLF, or keep it as it is.</param>
    public DataReader(long maxSize, bool dotTransparency, BareLineEndings bareLineEndings = BareLineEndings.Reject)
    {
        _maxSize = maxSize;
        _dotTransparency = dotTransparency;
        _bareLineEndings = bareLineEndings;
        _state = State.LineStart;
    }

    private enum State
    {
        LineStart,
        InLine,
        AfterCr,
        AfterDot,
        AfterDotCr,
        Done,
    }

    public DataViolation Violation { get; private set; }

    public bool IsComplete => _state == State.Done;

    /// <summary>Octets of body seen after unstuffing, including those not stored once a limit was hit.</summary>
    public long Size { get; private set; }

    /// <summary>
    /// Consumes bytes from <paramref name="input"/>, appending the body to <paramref name="output"/>.
    /// Returns how many bytes were consumed: fewer than given only when the end of DATA was reached.
    /// </summary>
    public int Read(ReadOnlySpan<byte> input, BodyBuffer output)
    {
        var i = 0;
        while (i < input.Length)
        {
            switch (_state)
            {
                case State.LineStart:
                    if (_dotTransparency && input[i] == (byte)'.')
                    {
                        _state = State.AfterDot;
                        // RFC 5321 s4.5.3.1.6: the dot added for transparency does not count towards the line length.
                        _lineLength = 0;
                        i++;
                        continue;
                    }
                    _lineLength = 0;
                    _state = State.InLine;
                    continue;

                case State.AfterDot:
                    if (input[i] == (byte)'\r')
                    {
                        _state = State.AfterDotCr;
                        i++;
                        continue;
                    }
                    // A stuffed dot: drop it (the first dot), keep the rest of the line.
                    _state = State.InLine;
                    continue;

                case State.AfterDotCr:
                    if (input[i] == (byte)'\n')
                    {
                        _state = State.Done;
                        return i + 1;
                    }
                    // ".\r" then something else: the CR is bare.
                    BareLineEnding(output);
                    _state = State.InLine;
                    continue;

                case State.AfterCr:
                    if (input[i] == (byte)'\n')
                    {
                        Append(output, "\r\n"u8);
                        _state = State.LineStart;
                        i++;
                        continue;
                    }
                    BareLineEnding(output);
                    _state = State.InLine;
                    continue;

                case State.InLine:
                    i += ScanLine(input[i..], output);
                    continue;

                case State.Done:
                    return i;
            }
        }
        return i;
    }

    /// <summary>At the end of a BDAT LAST chunk: a trailing CR with nothing after it is bare too.</summary>
    public void CompleteChunks(BodyBuffer output)
    {
        if (_state == State.AfterCr) BareLineEnding(output);
        _state = State.Done;
    }

    /// <summary>
    /// Copies plain bytes up to the next CR, LF or NUL; returns the bytes consumed. Whole lines that end
    /// in CRLF, are followed by a byte that cannot start a dot line, and break no limit are gathered
    /// and written at once: the outcome is the byte-level state machine's, without its per-line cost.
    /// </summary>
    private int ScanLine(ReadOnlySpan<byte> input, BodyBuffer output)
    {
        var start = 0;
        var lineLength = _lineLength;
        int special;
        while (true)
        {
            special = input[start..].IndexOfAny((byte)'\r', (byte)'\n', (byte)0);
            if (special < 0) break;
            var end = start + special;
            if (input[end] != (byte)'\r' || end + 2 >= input.Length || input[end + 1] != (byte)'\n'
                || (_dotTransparency && input[end + 2] == (byte)'.')
                || lineLength + special > MaxLineLength
                || (Violation == DataViolation.None && Size + end + 2 > _maxSize))
            {
                break;
            }
            start = end + 2;
            lineLength = 0;
        }
        if (start > 0)
        {
            Append(output, input[..start]);
            _lineLength = 0;
        }

        var line = input[start..];
        var run = special < 0 ? line : line[..special];
        // When the run breaks both limits, the one its earlier byte breaks is reported, as if read byte by
        // byte: the reply must not depend on how TCP split the input.
        // Keep mode checks no line length; the multi-line loop above leaves its longer lines to this slower path.
        var lineTooLong = _lineLength + run.Length > MaxLineLength && _bareLineEndings != BareLineEndings.Keep;
        if (lineTooLong && _maxSize - Size >= MaxLineLength - _lineLength) Fail(DataViolation.LineTooLong);
        _lineLength += run.Length;
        Append(output, run);
        if (lineTooLong) Fail(DataViolation.LineTooLong);
        if (special < 0) return input.Length;

        switch (line[special])
        {
            case (byte)'\r':
                _state = State.AfterCr;
                break;
            case (byte)'\n':
                BareLineEnding(output, isLf: true);
                break;
            default:
                if (_bareLineEndings == BareLineEndings.Keep) Append(output, line.Slice(special, 1));
                else Fail(DataViolation.Nul);
                break;
        }
        return start + special + 1;
    }

    private void BareLineEnding(BodyBuffer output, bool isLf = false)
    {
        switch (_bareLineEndings)
        {
            case BareLineEndings.Normalize:
                // The bare ending becomes CRLF in the stored body, but it still does not start a line
                // for end-of-data purposes: "\n.\n" can never end DATA.
                Append(output, "\r\n"u8);
                _lineLength = 0;
                return;
            case BareLineEndings.Keep:
                // Kept as it came, and likewise no line start: a dot after it is text, not stuffing.
                Append(output, isLf ? "\n"u8 : "\r"u8);
                return;
            default:
                if (!isLf) _lineLength++;
                Fail(DataViolation.BareLineEnding);
                return;
        }
    }

    private void Append(BodyBuffer output, ReadOnlySpan<byte> bytes)
    {
        Size += bytes.Length;
        if (Violation != DataViolation.None) return;
        if (Size > _maxSize)
        {
            Fail(DataViolation.TooLarge);
            return;
        }
        if (!output.TryWrite(bytes)) Fail(DataViolation.OutOfMemoryBudget);
    }

    private void Fail(DataViolation violation)
    {
        if (Violation == DataViolation.None) Violation = violation;
    }
}

/// <summary>Why a received body is refused; the first one seen wins.</summary>
public enum DataViolation
{
    None,
    TooLarge,
    BareLineEnding,
    Nul,
    LineTooLong,

    /// <summary>The bodies being received hold all the memory they may (<see cref="BodyMemoryBudget"/>): a temporary refusal.</summary>
    OutOfMemoryBudget,
}
