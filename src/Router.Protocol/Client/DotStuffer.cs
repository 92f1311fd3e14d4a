namespace Router.Protocol.Client;

/// <summary>
/// Encodes a message for the DATA phase (RFC 5321 s4.5.2): a leading "." on a line is doubled,
/// and every line end is sent as CRLF: a bare LF or bare CR becomes CRLF, so no receiver can see
/// a line end other than the one we meant (the SMTP smuggling defence). Complete appends the
/// CRLF (when missing) and ".CRLF". Works chunk by chunk; state carries across chunks.
/// </summary>
internal sealed class DotStuffer
{
    /// <summary>The most bytes <see cref="Complete"/> writes: CRLF for an unterminated last line, then ".CRLF".</summary>
    public const int MaxTrailerLength = 5;

    private bool _atLineStart = true;
    private bool _pendingCr;

    /// <summary>The output space <see cref="Encode"/> may need for an input of <paramref name="inputLength"/> bytes.</summary>
    public static int MaxEncodedLength(int inputLength) => inputLength * 2 + 2;

    /// <summary>Encodes <paramref name="input"/> into <paramref name="output"/>, which must hold <see cref="MaxEncodedLength"/> bytes; returns the bytes written.</summary>
    public int Encode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var w = 0;
        var i = 0;
        while (i < input.Length)
        {
            if (_pendingCr)
            {
                // A CR ended the previous run: it is a line end whatever follows.
                _pendingCr = false;
                output[w++] = (byte)'\r';
                output[w++] = (byte)'\n';
                _atLineStart = true;
                if (input[i] == (byte)'\n') i++;
                continue;
            }
            if (_atLineStart && input[i] == (byte)'.') output[w++] = (byte)'.';
            _atLineStart = false;

            var rest = input[i..];
            var k = rest.IndexOfAny((byte)'\r', (byte)'\n');
            if (k < 0)
            {
                rest.CopyTo(output[w..]);
                w += rest.Length;
                break;
            }
            rest[..k].CopyTo(output[w..]);
            w += k;
            i += k + 1;
            if (rest[k] == (byte)'\n')
            {
                output[w++] = (byte)'\r';
                output[w++] = (byte)'\n';
                _atLineStart = true;
            }
            else
            {
                _pendingCr = true;
            }
        }
        return w;
    }

    /// <summary>Ends the data: closes an open line and writes the terminating ".CRLF"; returns the bytes written.</summary>
    public int Complete(Span<byte> output)
    {
        var w = 0;
        if (_pendingCr || !_atLineStart)
        {
            output[w++] = (byte)'\r';
            output[w++] = (byte)'\n';
        }
        output[w++] = (byte)'.';
        output[w++] = (byte)'\r';
        output[w++] = (byte)'\n';
        _pendingCr = false;
        _atLineStart = true;
        return w;
    }

    /// <summary>Encodes a whole message at once (tests and small messages).</summary>
    public static byte[] EncodeAll(ReadOnlySpan<byte> message)
    {
        var stuffer = new DotStuffer();
        var buffer = new byte[MaxEncodedLength(message.Length) + MaxTrailerLength];
        var n = stuffer.Encode(message, buffer);
        n += stuffer.Complete(buffer.AsSpan(n));
        return buffer.AsSpan(0, n).ToArray();
    }
}
