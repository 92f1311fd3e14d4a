using System.Text;
using Router.LoadTest.Sink;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>
/// What actually arrived, counted by Message-ID: the files in new/ of every mailbox under the
/// shared Maildir root (a file there is final: read once, then cached) and the messages the sink
/// accepted. Only Message-IDs carrying the test's token count.
/// </summary>
internal sealed class DeliveryLedger(string maildirRoot, SmtpSink sink, string token)
{
    private readonly Dictionary<string, (string? Id, string Mailbox)> _files = [];
    private readonly byte[] _needle = Encoding.ASCII.GetBytes(token);

    /// <summary>Message-ID -> the Maildir files holding it (mailbox, file path).</summary>
    public Dictionary<string, List<(string Mailbox, string Path)>> Maildir()
    {
        var byId = new Dictionary<string, List<(string, string)>>();
        if (!Directory.Exists(maildirRoot)) return byId;
        foreach (var domain in Directory.GetDirectories(maildirRoot))
        {
            foreach (var user in Directory.GetDirectories(domain))
            {
                var mailbox = Path.GetFileName(user) + "@" + Path.GetFileName(domain);
                var folder = Path.Combine(user, "new");
                if (!Directory.Exists(folder)) continue;
                foreach (var file in Directory.GetFiles(folder))
                {
                    if (!_files.TryGetValue(file, out var entry))
                    {
                        entry = (IdOf(File.ReadAllBytes(file)), mailbox);
                        _files[file] = entry;
                    }
                    if (entry.Id is null) continue;
                    if (!byId.TryGetValue(entry.Id, out var list)) byId[entry.Id] = list = [];
                    list.Add((mailbox, file));
                }
            }
        }
        return byId;
    }

    /// <summary>Message-ID -> how many times the sink accepted it, with the recipients of each copy.</summary>
    public Dictionary<string, List<IReadOnlyList<string>>> Sink()
    {
        var byId = new Dictionary<string, List<IReadOnlyList<string>>>();
        foreach (var message in sink.Messages.ToArray())
        {
            var id = IdOf(message.Data);
            if (id is null) continue;
            if (!byId.TryGetValue(id, out var list)) byId[id] = list = [];
            list.Add(message.Recipients);
        }
        return byId;
    }

    /// <summary>The Message-ID of a message of this test, or null.</summary>
    private string? IdOf(byte[] data)
    {
        var span = data.AsSpan(0, Math.Min(data.Length, 4096));
        var header = "\nMessage-ID: <"u8;
        var at = span.IndexOf(header);
        if (at < 0) return null;
        var rest = span[(at + header.Length)..];
        var end = rest.IndexOf((byte)'>');
        if (end < 0 || rest[..end].IndexOf(_needle) < 0) return null;
        return Encoding.ASCII.GetString(rest[..end]);
    }
}
