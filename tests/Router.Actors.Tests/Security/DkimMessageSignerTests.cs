using System.Security.Cryptography;
using System.Text;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Security;
using Router.Actors.Configuration;
using Router.Actors.Security;

namespace Router.Actors.Tests.Security;

/// <summary>DKIM signing (RFC 6376) of the raw message bytes, checked with MimeKit's verifier.</summary>
public sealed class DkimMessageSignerTests : IDisposable
{
    private readonly RSA _key = RSA.Create(2048);
    private readonly string _keyFile = Path.Combine(Path.GetTempPath(), "router-dkim-" + Guid.NewGuid().ToString("N") + ".pem");
    private readonly DkimMessageSigner _signer;

    private const string Message =
        "From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject: hello\r\nDate: Fri, 02 Jan 2026 03:04:05 +0000\r\n" +
        "Message-ID: <1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello  Bob,\r\n\r\nbye\r\n";

    public DkimMessageSignerTests()
    {
        File.WriteAllText(_keyFile, _key.ExportRSAPrivateKeyPem());
        _signer = new DkimMessageSigner(new Dictionary<string, DkimDomainSettings> { ["example.test"] = new("s1", _keyFile) });
    }

    public void Dispose()
    {
        _key.Dispose();
        File.Delete(_keyFile);
    }

    [Fact]
    public async Task Signature_over_the_unchanged_bytes_verifies()
    {
        var field = _signer.Sign(Encoding.ASCII.GetBytes(Message), envelopeDomain: null)!;
        var text = Encoding.ASCII.GetString(field);
        Assert.StartsWith("DKIM-Signature:", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\r\n", text[..^2].Replace("\r\n\t", "", StringComparison.Ordinal).Replace("\r\n ", "", StringComparison.Ordinal), StringComparison.Ordinal);

        var signed = MimeMessage.Load(new MemoryStream(Encoding.ASCII.GetBytes(text + Message)));
        var header = signed.Headers[signed.Headers.IndexOf(HeaderId.DkimSignature)];
        Assert.Contains("c=relaxed/relaxed", header.Value, StringComparison.Ordinal);
        Assert.Matches("h=[^;]*from", header.Value.ToLowerInvariant());
        var verifier = new DkimVerifier(new Locator(_key));
        Assert.True(await verifier.VerifyAsync(signed, header));

        var tampered = MimeMessage.Load(new MemoryStream(Encoding.ASCII.GetBytes(text + Message.Replace("Subject: hello", "Subject: hullo", StringComparison.Ordinal))));
        Assert.False(await verifier.VerifyAsync(tampered, tampered.Headers[tampered.Headers.IndexOf(HeaderId.DkimSignature)]));
    }

    [Fact]
    public async Task The_MIME_fields_are_signed_from_the_body_headers()
    {
        var signed = MimeMessage.Load(new MemoryStream(_signer.Outgoing(Encoding.ASCII.GetBytes(Message), envelopeDomain: null).ToArray()));
        var header = signed.Headers[signed.Headers.IndexOf(HeaderId.DkimSignature)];

        Assert.Matches("h=[^;]*content-type", header.Value.ToLowerInvariant());
        Assert.True(await new DkimVerifier(new Locator(_key)).VerifyAsync(signed, header));
        var retyped = MimeMessage.Load(new MemoryStream(_signer.Outgoing(Encoding.ASCII.GetBytes(Message), envelopeDomain: null).ToArray()));
        retyped.Body!.ContentType.Charset = "iso-8859-1";
        Assert.False(await new DkimVerifier(new Locator(_key)).VerifyAsync(retyped, retyped.Headers[retyped.Headers.IndexOf(HeaderId.DkimSignature)]));
    }

    [Fact]
    public async Task An_8bit_message_is_signed_in_its_7bit_form_so_the_signature_survives_a_next_hop_without_8BITMIME()
    {
        var eightBit = Message.Replace("Hello  Bob,", "Grüße, Bob – à bientôt", StringComparison.Ordinal);
        eightBit = eightBit.Replace("Content-Type: text/plain; charset=utf-8\r\n", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n", StringComparison.Ordinal);

        var leaving = _signer.Outgoing(Encoding.UTF8.GetBytes(eightBit), envelopeDomain: null);

        Assert.True(leaving.Span.IndexOfAnyInRange((byte)0x80, (byte)0xFF) < 0, "the signed message still has 8-bit content");
        // What a next hop without 8BITMIME gets (the delivery converts again: nothing left to do).
        var relayed = Router.Protocol.SevenBitDowngrade.Apply(leaving);
        Assert.True(relayed.Span.SequenceEqual(leaving.Span));
        var parsed = MimeMessage.Load(new MemoryStream(relayed.ToArray()));
        Assert.True(await new DkimVerifier(new Locator(_key)).VerifyAsync(parsed, parsed.Headers[parsed.Headers.IndexOf(HeaderId.DkimSignature)]));
        Assert.Contains("Grüße, Bob", parsed.TextBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_8bit_message_without_MIME_fields_is_signed_as_MIME_text_and_the_signature_survives_a_next_hop_without_8BITMIME()
    {
        // No MIME-Version, no Content-Type: the 7-bit form gets both (RFC 2045 s4), and they are signed.
        var eightBit = Message.Replace("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", "", StringComparison.Ordinal)
            .Replace("Hello  Bob,", "Grüße, Bob – à bientôt", StringComparison.Ordinal);

        var leaving = _signer.Outgoing(Encoding.UTF8.GetBytes(eightBit), envelopeDomain: null);

        Assert.True(leaving.Span.IndexOfAnyInRange((byte)0x80, (byte)0xFF) < 0, "the signed message still has 8-bit content");
        var relayed = Router.Protocol.SevenBitDowngrade.Apply(leaving);
        Assert.True(relayed.Span.SequenceEqual(leaving.Span));
        var parsed = MimeMessage.Load(new MemoryStream(relayed.ToArray()));
        var signature = parsed.Headers[parsed.Headers.IndexOf(HeaderId.DkimSignature)];
        Assert.Matches("h=[^;]*mime-version", signature.Value.ToLowerInvariant());
        Assert.True(await new DkimVerifier(new Locator(_key)).VerifyAsync(parsed, signature));
        Assert.Equal("utf-8", parsed.Body!.ContentType.Charset);
        Assert.Contains("Grüße, Bob", parsed.TextBody, StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_no_key_applies_to_leaves_unchanged_even_with_8bit_content()
    {
        var foreign = Encoding.UTF8.GetBytes(Message.Replace("alice@example.test", "alice@other.test", StringComparison.Ordinal).Replace("Hello", "Grüße", StringComparison.Ordinal));

        Assert.True(_signer.Outgoing(foreign, envelopeDomain: "other.test").Span.SequenceEqual(foreign));
    }

    [Fact]
    public void Only_configured_domains_are_signed()
    {
        var foreign = Message.Replace("alice@example.test", "alice@other.test", StringComparison.Ordinal);
        Assert.Null(_signer.Sign(Encoding.ASCII.GetBytes(foreign), envelopeDomain: "other.test"));
        Assert.NotNull(_signer.Sign(Encoding.ASCII.GetBytes(foreign), envelopeDomain: "example.test"));
    }

    private sealed class Locator(RSA key) : DkimPublicKeyLocatorBase
    {
        private readonly AsymmetricKeyParameter _key = DotNetUtilities.GetRsaPublicKey(key);

        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) => _key;

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) => Task.FromResult(_key);
    }
}
