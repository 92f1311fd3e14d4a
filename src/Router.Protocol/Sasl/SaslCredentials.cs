namespace Router.Protocol.Sasl;

/// <summary>
/// A user name and password taken from an AUTH exchange. <see cref="ToString"/> shows the user
/// only, so a credential that reaches a log line never carries its password.
/// </summary>
public sealed class SaslCredentials(string user, string password)
{
    public string User { get; } = user;

    public string Password { get; } = password;

    public override string ToString() => User;
}
