using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Router.EndToEnd.Tests.Security;

/// <summary>Files a security test router is configured with: a server certificate, a DKIM key, free ports.</summary>
internal static class SecurityMaterial
{
    public const string CertificateSubject = "mail.security.test";

    /// <summary>Writes a self-signed certificate (CN=mail.security.test) and its key as PEM files.</summary>
    public static (string Certificate, string Key) WriteServerCertificate(string folder)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={CertificateSubject}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(CertificateSubject);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var certPath = Path.Combine(folder, "server-cert.pem");
        var keyPath = Path.Combine(folder, "server-key.pem");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    /// <summary>
    /// A certificate authority of the tests: its certificate as a PEM file (what a router that
    /// trusts it gets as SSL_CERT_FILE, the trust store .NET's TLS reads through OpenSSL), and the
    /// certificate with its key, to issue servers' certificates.
    /// </summary>
    public static (string Path, X509Certificate2 Authority) WriteCertificateAuthority(string folder)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Router Test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(folder, "test-ca.pem");
        File.WriteAllText(path, authority.ExportCertificatePem());
        return (path, authority);
    }

    /// <summary>A server certificate for <paramref name="dnsName"/> and <paramref name="address"/> issued by <paramref name="authority"/>, and its key, as PEM files.</summary>
    public static (string Certificate, string Key) WriteServerCertificate(string folder, X509Certificate2 authority, string dnsName, System.Net.IPAddress address)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        san.AddIpAddress(address);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var certificate = request.Create(authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), serial);
        var certPath = Path.Combine(folder, $"{dnsName}-cert.pem");
        var keyPath = Path.Combine(folder, $"{dnsName}-key.pem");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    /// <summary>An RSA 2048 DKIM key: the PEM file path and the key itself (for the verifier).</summary>
    public static (string Path, RSA Key) WriteDkimKey(string folder)
    {
        var rsa = RSA.Create(2048);
        var path = Path.Combine(folder, "dkim.pem");
        File.WriteAllText(path, rsa.ExportRSAPrivateKeyPem());
        return (path, rsa);
    }

    /// <summary>Sockets the process holds (entries of /proc/PID/fd that are sockets).</summary>
    public static int SocketCount(int pid) =>
        new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos()
            .Count(f => f.LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);
}
