using System.Globalization;
using System.Text;

namespace Router.Protocol;

/// <summary>
/// RFC 3461 s4 xtext, the encoding of ENVID and ORCPT: "!" to "~" as they are, except "+" and
/// "=", and every other octet as "+" and two upper-case hexadecimal digits.
/// </summary>
public static class XText
{
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is >= 33 and <= 126 and not (byte)'+' and not (byte)'=') sb.Append((char)b);
            else sb.Append('+').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>The text an xtext stands for; a "+" not followed by two hexadecimal digits stays as it is.</summary>
    public static string Decode(string value)
    {
        if (!value.Contains('+', StringComparison.Ordinal)) return value;
        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '+' && i + 2 < value.Length && byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
