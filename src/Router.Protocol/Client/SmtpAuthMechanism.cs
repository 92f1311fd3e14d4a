namespace Router.Protocol.Client;

/// <summary>SASL mechanisms the client speaks for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and the de-facto LOGIN.</summary>
public enum SmtpAuthMechanism
{
    Plain,
    Login,
}
