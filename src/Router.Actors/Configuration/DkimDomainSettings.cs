namespace Router.Actors.Configuration;

/// <summary>One signing domain's DKIM selector and private key (PEM) file.</summary>
public sealed record DkimDomainSettings(string Selector, string KeyFile);
