using MimeKit;
using MimeKit.Cryptography;
using Router.Protocol;

namespace Router.Actors.Security;

/// <summary>
/// DKIM signing (RFC 6376) of mail leaving through the relay, for the sender domains that have a
/// key: relaxed/relaxed canonicalization, rsa-sha256, the From domain's key first (the one DMARC
/// aligns with), else the envelope sender's. Only the DKIM-Signature field is produced; the
/// message bytes themselves are rewritten only when they hold 8-bit content (see <see cref="Outgoing"/>).
/// </summary>
public sealed class DkimMessageSigner
{
    /// <summary>RFC 6376 s5.4.1's recommended fields, with the MIME ones; fields a message lacks are skipped.</summary>
    private static readonly string[] SignedHeaders =
    [
        "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    ];

    private readonly Dictionary<string, DkimSigner> _signers;

    /// <summary>Signers for router.dkim's domains; a key that does not load fails with a message naming the setting.</summary>
    public static DkimMessageSigner FromSettings(IReadOnlyDictionary<string, Configuration.DkimDomainSettings> domains)
    {
        try
        {
            return new DkimMessageSigner(domains);
        }
        catch (Exception e) when (e is IOException or FormatException or System.Security.Cryptography.CryptographicException or ArgumentException or InvalidCastException)
        {
            throw new Akka.Configuration.ConfigurationException($"router.dkim: cannot load a signing key: {e.Message}", e);
        }
    }

    public DkimMessageSigner(IReadOnlyDictionary<string, Configuration.DkimDomainSettings> domains)
    {
        _signers = new Dictionary<string, DkimSigner>(StringComparer.OrdinalIgnoreCase);
        foreach (var (domain, settings) in domains)
        {
            _signers[domain] = new DkimSigner(settings.KeyFile, domain, settings.Selector, DkimSignatureAlgorithm.RsaSha256)
            {
                HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
                BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
            };
        }
    }

    public bool IsEmpty => _signers.Count == 0;

    /// <summary>
    /// The message as it leaves: with its DKIM-Signature field on top when a key applies (see
    /// <see cref="Sign"/>), else unchanged. 8-bit content is first converted to 7 bit (RFC 6376
    /// s5.3): a next hop without 8BITMIME gets a 7-bit form (RFC 6152 s3), and a signature over
    /// the 8-bit body would not survive that conversion.
    /// </summary>
    public ReadOnlyMemory<byte> Outgoing(ReadOnlyMemory<byte> message, string? envelopeDomain)
    {
        var sevenBit = SevenBitDowngrade.Apply(message);
        if (Sign(sevenBit, envelopeDomain) is not { } field) return message;
        var signed = new byte[field.Length + sevenBit.Length];
        field.CopyTo(signed, 0);
        sevenBit.Span.CopyTo(signed.AsSpan(field.Length));
        return signed;
    }

    /// <summary>
    /// The "DKIM-Signature: ..." field (CRLF-terminated) to put before the message, or null when
    /// neither the From domain nor <paramref name="envelopeDomain"/> has a key (or the message
    /// cannot be parsed).
    /// </summary>
    public byte[]? Sign(ReadOnlyMemory<byte> message, string? envelopeDomain)
    {
        if (_signers.Count == 0) return null;
        MimeMessage parsed;
        try
        {
            using var stream = new MemoryStream(message.ToArray(), writable: false);
            parsed = MimeMessage.Load(stream);
        }
        catch (FormatException)
        {
            return null;
        }
        var fromDomain = parsed.From.Mailboxes.FirstOrDefault()?.Domain;
        if (!((fromDomain is not null && _signers.TryGetValue(fromDomain, out var signer)) ||
              (envelopeDomain is not null && _signers.TryGetValue(envelopeDomain, out signer))))
        {
            return null;
        }
        // MimeKit keeps the Content-* fields with the body, and signs them from there.
        var present = SignedHeaders.Where(h => parsed.Headers.Contains(h) || parsed.Body?.Headers.Contains(h) == true).ToArray();
        if (!present.Contains("From")) return null; // RFC 6376 s5.4: From must be signed
        lock (signer)
        {
            var options = FormatOptions.Default.Clone();
            options.NewLineFormat = NewLineFormat.Dos;
            signer.Sign(options, parsed, present);
        }
        var field = parsed.Headers.First(h => h.Id == HeaderId.DkimSignature);
        var raw = new byte[field.RawField.Length + 1 + field.RawValue.Length];
        field.RawField.CopyTo(raw, 0);
        raw[field.RawField.Length] = (byte)':';
        field.RawValue.CopyTo(raw, field.RawField.Length + 1);
        return Normalize(raw);
    }

    /// <summary>MimeKit may fold with bare LF; the wire needs CRLF throughout.</summary>
    private static byte[] Normalize(byte[] field)
    {
        var output = new List<byte>(field.Length + 8);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == (byte)'\n' && (i == 0 || field[i - 1] != (byte)'\r')) output.Add((byte)'\r');
            output.Add(field[i]);
        }
        if (output.Count < 2 || output[^1] != (byte)'\n') output.AddRange("\r\n"u8.ToArray());
        return output.ToArray();
    }
}
