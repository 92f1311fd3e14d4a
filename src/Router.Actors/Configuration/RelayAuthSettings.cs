namespace Router.Actors.Configuration;

/// <summary>One next hop's entry of router.relay.auth: the user to authenticate as and the file holding the password.</summary>
public sealed record RelayAuthSettings(string User, string PasswordFile);
