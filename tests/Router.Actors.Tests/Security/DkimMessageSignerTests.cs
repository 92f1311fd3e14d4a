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
