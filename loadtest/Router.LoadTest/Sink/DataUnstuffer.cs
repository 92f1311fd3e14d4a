using System.Buffers;

namespace Router.LoadTest.Sink;

/// <summary>
/// The receiving side of DATA (RFC 5321 s4.1.1.4, s4.5.2): finds the end only at CRLF "." CRLF,
/// never at a bare LF or bare CR (so "\n.\n" cannot smuggle a second message), and removes the
/// leading dot that the client added to lines starting with ".". A small byte state machine;
/// runs of ordinary bytes are copied with one IndexOf per run.
/// </summary>
internal sealed class DataUnstuffer
{
    private State _state = State.LineStart;

    private enum State
    {
        /// <summary>Right after CRLF (or at the start of DATA).</summary>
        LineStart,

        /// <summary>Inside a line.</summary>
        Mid,

        /// <summary>A CR inside a line: a following LF ends the line.</summary>
        Cr,

        /// <summary>A dot at the start of a line.</summary>
        Dot,

        /// <summary>A dot and CR at the start of a line: a following LF ends DATA.</summary>
        DotCr,
    }

    public void Reset() => _state = State.LineStart;

    /// <summary>
    /// Consumes <paramref name="input"/> up to the end of DATA, writing the unstuffed message to
    /// <paramref name="output"/>; returns the bytes consumed and whether the terminator was seen.
    /// </summary>
    public int Feed(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out bool done)
    {
        done = false;
        var i = 0;
        while (i < input.Length)
        {
            var b = input[i];
            switch (_state)
            {
                case State.LineStart:
                    if (b == (byte)'.')
                    {
                        _state = State.Dot;
                        i++;
                        continue;
                    }
                    _state = State.Mid;
                    continue;

                case State.Mid:
                    var run = input[i..];
                    var cr = run.IndexOf((byte)'\r');
                    if (cr < 0)
                    {
                        output.Write(run);
                        return input.Length;
                    }
                    output.Write(run[..(cr + 1)]);
                    i += cr + 1;
                    _state = State.Cr;
                    continue;

                case State.Cr:
                    Put(output, b);
                    i++;
                    _state = b == (byte)'\n' ? State.LineStart : b == (byte)'\r' ? State.Cr : State.Mid;
                    continue;

                case State.Dot:
                    if (b == (byte)'\r')
                    {
                        _state = State.DotCr;
                        i++;
                        continue;
                    }
                    // The stuffed dot is dropped; the byte after it is ordinary content.
                    _state = State.Mid;
                    continue;

                case State.DotCr:
                    i++;
                    if (b == (byte)'\n')
                    {
                        done = true;
                        _state = State.LineStart;
                        return i;
                    }
                    // ".\r" then something else: the dot was stuffing, the CR is content.
                    Put(output, (byte)'\r');
                    Put(output, b);
                    _state = b == (byte)'\r' ? State.Cr : State.Mid;
                    continue;
            }
        }
        return i;
    }

    private static void Put(IBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }
}
