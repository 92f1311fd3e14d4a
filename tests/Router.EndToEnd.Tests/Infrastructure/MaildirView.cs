using System.Text;

namespace Router.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Read-only view of one mailbox's Maildir (<c>&lt;root&gt;/&lt;domain&gt;/&lt;user&gt;</c>), as the
/// router writes it: files in new/ once durable, in tmp/ while being written and until their link
/// into new/ is durable.
/// </summary>
public sealed class MaildirView
{
    public MaildirView(string root, string address)
    {
        var at = address.LastIndexOf('@');
        Path = System.IO.Path.Combine(root, address[(at + 1)..].ToLowerInvariant(), address[..at].ToLowerInvariant());
    }

    public string Path { get; }

    public IReadOnlyList<string> NewFiles() => List("new");

    public IReadOnlyList<string> TmpFiles() => List("tmp");

    /// <summary>Completes once tmp/ is empty: a delivered file keeps its tmp/ name until its link into new/ is durable.</summary>
    public Task TmpEmptiesAsync() =>
        Eventually.UntilAsync(() => Task.FromResult(TmpFiles().Count == 0), TimeSpan.FromSeconds(10), $"{Path}/tmp to be empty");

    /// <summary>The messages in new/, each without the trace headers the router prepended.</summary>
    public IReadOnlyList<byte[]> NewMessages() => NewFiles().Select(f => StripTrace(File.ReadAllBytes(f))).ToArray();

    /// <summary>The messages in new/ whose bytes contain <paramref name="token"/>, trace headers stripped.</summary>
    public IReadOnlyList<byte[]> NewMessagesContaining(string token)
    {
        var needle = Encoding.UTF8.GetBytes(token);
        return NewMessages().Where(m => m.AsSpan().IndexOf(needle) >= 0).ToArray();
    }

    /// <summary>
    /// Removes what the router put in front of the message as received: Return-Path and
    /// Delivered-To (added at delivery), then one Received field with its folded lines.
    /// </summary>
    public static byte[] StripTrace(byte[] file)
    {
        var position = 0;
        position = SkipField(file, position, "Return-Path:");
        position = SkipField(file, position, "Delivered-To:");
        position = SkipField(file, position, "Received:");
        return file[position..];
    }

    /// <summary>The trace headers the router prepended (everything <see cref="StripTrace"/> removes), as text.</summary>
    public static string TraceOf(byte[] file) => Encoding.UTF8.GetString(file, 0, file.Length - StripTrace(file).Length);

    private static int SkipField(byte[] file, int position, string name)
    {
        var prefix = Encoding.ASCII.GetBytes(name);
        if (!file.AsSpan(position).StartsWith(prefix)) throw new InvalidDataException($"expected a {name} trace header at offset {position}");
        do
        {
            var lf = Array.IndexOf(file, (byte)'\n', position);
            if (lf < 0) throw new InvalidDataException($"unterminated {name} header");
            position = lf + 1;
        }
        while (position < file.Length && file[position] is (byte)' ' or (byte)'\t');
        return position;
    }

    private IReadOnlyList<string> List(string sub)
    {
        var folder = System.IO.Path.Combine(Path, sub);
        return Directory.Exists(folder) ? Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToArray() : [];
    }
}
