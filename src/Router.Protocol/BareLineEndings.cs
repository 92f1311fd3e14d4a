namespace Router.Protocol;

/// <summary>
/// What <see cref="DataReader"/> does with a bare CR or bare LF in a body. Whatever the choice, a bare line
/// ending never ends DATA nor starts a line for end-of-data purposes (no SMTP smuggling).
/// A byte, so that a DataReader (one per message) stays at 48 bytes.
/// </summary>
public enum BareLineEndings : byte
{
    /// <summary>Refuse the message (<see cref="DataViolation.BareLineEnding"/>).</summary>
    Reject,

    /// <summary>Store each one as CRLF.</summary>
    Normalize,

    /// <summary>
    /// Store them as received, and check nothing else about the text either (NUL bytes, line length): the
    /// transparent reading of a sink that keeps exactly what it was sent. Only the size limit applies.
    /// </summary>
    Keep,
}
