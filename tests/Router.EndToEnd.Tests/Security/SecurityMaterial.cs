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
