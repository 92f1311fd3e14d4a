using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Router.Actors.Configuration;
using Router.Actors.Security;

namespace Router.Actors.Smtp;

/// <summary>
/// What sessions need for TLS (RFC 3207, RFC 8314), AUTH (RFC 4954), the submission sender
/// policy (RFC 6409) and DKIM signing, built once per node. <see cref="Disabled"/> (no
/// certificate, no users) leaves STARTTLS and AUTH unoffered.
/// </summary>
public sealed class SmtpSecurity
{
    public SmtpSecurity(SecuritySettings settings, X509Certificate2? certificate, UserStore? users, DkimMessageSigner? dkim)
    {
        Settings = settings;
        Users = users;
        Dkim = dkim is { IsEmpty: false } ? dkim : null;
        Senders = new SenderOwnership(settings.SenderLoginMaps);
        if (certificate is not null) _tlsOptions = OptionsFor(certificate);
    }

    /// <summary>
    /// The server side of the handshake for <paramref name="certificate"/>. Building its context
    /// (the chain) costs a second or two on first use: it runs in the background, so the listeners
    /// open at once and a reloaded certificate is taken once ready.
    /// </summary>
    private static Task<SslServerAuthenticationOptions> OptionsFor(X509Certificate2 certificate) => Task.Run(() => new SslServerAuthenticationOptions
    {
        ServerCertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true),
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    });

    /// <summary>Handshakes from now on present <paramref name="certificate"/> (a renewed one, on SIGHUP); sessions already under TLS keep theirs.</summary>
    public void ReloadCertificate(X509Certificate2 certificate)
    {
        if (_tlsOptions is not null) _tlsOptions = OptionsFor(certificate);
    }

    public static SmtpSecurity Disabled { get; } = new(new SecuritySettings(), null, null, null);

    public SecuritySettings Settings { get; }

    private volatile Task<SslServerAuthenticationOptions>? _tlsOptions;

    /// <summary>False when no certificate is loaded: STARTTLS is then not offered.</summary>
    public bool TlsAvailable => _tlsOptions is not null;

    /// <summary>The server side of the handshake (TLS 1.2 and 1.3 only); only when <see cref="TlsAvailable"/>.</summary>
    public Task<SslServerAuthenticationOptions> TlsOptions => _tlsOptions ?? throw new InvalidOperationException("no TLS certificate");

    public UserStore? Users { get; }

    public SenderOwnership Senders { get; }

    public DkimMessageSigner? Dkim { get; }
}
