using System.Buffers.Text;
using System.Text;

namespace Router.Protocol.Sasl;

/// <summary>
/// The byte side of SMTP AUTH (RFC 4954): the AUTH command's mechanism and initial response,
/// the base64 client responses (s4: "=" is an empty response, "*" cancels), and the two
/// mechanisms Router offers, PLAIN (RFC 4616: [authzid] NUL authcid NUL passwd, UTF-8) and
/// LOGIN (user name and password as two base64 responses).
/// </summary>
public static class SaslDecoder
{
    /// <summary>The base64 of "Username:" and "Password:", the LOGIN mechanism's challenges.</summary>
    public const string LoginUserChallenge = "VXNlcm5hbWU6";

    public const string LoginPasswordChallenge = "UGFzc3dvcmQ6";

    /// <summary>
    /// Longest client response line taken during an AUTH exchange, CRLF included (RFC 4954 s4:
    /// servers must take their mechanisms' whole responses, "12288 octets is considered to be
    /// sufficient"; Postfix's smtpd_sasl_response_limit). Longer ones fail the exchange with 500 5.5.6.
    /// </summary>
    public const int MaxResponseLine = 12288;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Splits "AUTH mechanism [initial-response]"'s argument; the mechanism comes back upper-cased.</summary>
    public static bool TryParseAuth(ReadOnlySpan<byte> argument, out string mechanism, out byte[]? initialResponse)
    {
        mechanism = "";
        initialResponse = null;
        var space = argument.IndexOf((byte)' ');
        var name = space < 0 ? argument : argument[..space];
        if (name.IsEmpty || name.Length > 20) return false;
        foreach (var b in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_')) return false;
        }
        mechanism = Encoding.ASCII.GetString(name).ToUpperInvariant();
        if (space < 0) return true;
        var rest = argument[(space + 1)..];
        if (rest.IsEmpty || rest.IndexOf((byte)' ') >= 0) return false;
        initialResponse = rest.ToArray();
        return true;
    }

    /// <summary>True for the client's "*" that cancels the exchange (RFC 4954 s4).</summary>
    public static bool IsCancel(ReadOnlySpan<byte> response) => response.Length == 1 && response[0] == (byte)'*';

    /// <summary>Decodes one base64 client response; "=" is the empty response. Null when it is not base64.</summary>
    public static byte[]? DecodeResponse(ReadOnlySpan<byte> response)
    {
        if (response.Length == 1 && response[0] == (byte)'=') return [];
        if (response.IsEmpty) return null;
        var decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(response.Length)];
        var status = Base64.DecodeFromUtf8(response, decoded, out var consumed, out var written);
        return status == System.Buffers.OperationStatus.Done && consumed == response.Length ? decoded[..written] : null;
    }

    /// <summary>
    /// RFC 4616 s2: message = [authzid] NUL authcid NUL passwd; null when malformed. An
    /// authorization identity other than the authentication identity (acting as another user)
    /// comes back in <see cref="SaslCredentials.ActingAs"/>, for the caller to refuse as a
    /// failed authentication (RFC 4954 s6: 535 5.7.8), not as an undecodable response.
    /// </summary>
    public static SaslCredentials? DecodePlain(ReadOnlySpan<byte> message)
    {
        var first = message.IndexOf((byte)0);
        if (first < 0) return null;
        var rest = message[(first + 1)..];
        var second = rest.IndexOf((byte)0);
        if (second < 0) return null;
        var authzid = message[..first];
        var authcid = rest[..second];
        var password = rest[(second + 1)..];
        if (authcid.IsEmpty || password.IsEmpty || password.IndexOf((byte)0) >= 0) return null;
        var actingAs = authzid.IsEmpty || authzid.SequenceEqual(authcid) ? "" : Utf8(authzid);
        var user = Utf8(authcid);
        var pass = Utf8(password);
        return user is null || pass is null || actingAs is null
            ? null
            : new SaslCredentials(user, pass) { ActingAs = actingAs.Length == 0 ? null : actingAs };
    }

    /// <summary>A LOGIN response (user name or password): UTF-8 with no NUL, else null.</summary>
    public static string? DecodeLoginField(ReadOnlySpan<byte> field) =>
        field.IsEmpty || field.IndexOf((byte)0) >= 0 ? null : Utf8(field);

    private static string? Utf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
