namespace Router.Protocol.Sasl;

/// <summary>
/// A user name and password taken from an AUTH exchange. <see cref="ToString"/> shows the user
/// only, so a credential that reaches a log line never carries its password.
/// </summary>
public sealed class SaslCredentials(string user, string password)
{
    public string User { get; } = user;

    public string Password { get; } = password;

    /// <summary>
    /// The authorization identity of a PLAIN message when it names someone other than
    /// <see cref="User"/> (RFC 4616: acting as another user). Router lets nobody do that.
    /// </summary>
    public string? ActingAs { get; init; }

    public override string ToString() => User;
}
