using System.Text;

namespace Router.Protocol.Tests.Server;

/// <summary>Byte helpers for the protocol tests: wire text is Latin-1/ASCII so every char is one octet.</summary>
internal static class Bytes
{
    public static byte[] Ascii(string s) => Encoding.Latin1.GetBytes(s);

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    public static string Text(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    public static string Text(ReadOnlyMemory<byte> b) => Encoding.Latin1.GetString(b.Span);
}
