namespace Router.Protocol.Delivery;

/// <summary>
/// What <see cref="MxSelector"/> made of a domain's MX records (RFC 5321 s5.1, RFC 7505):
/// either the exchange hosts to try, in order, or the statement that the domain accepts no mail.
/// An empty host list without <see cref="IsNullMx"/> means "no MX records": use the implicit MX.
/// </summary>
public sealed record MxSelection(bool IsNullMx, IReadOnlyList<MxRecord> Hosts)
{
    public static MxSelection NullMx { get; } = new(true, []);

    public static MxSelection None { get; } = new(false, []);

    /// <summary>True when there were no usable MX records and the domain itself is the implicit MX.</summary>
    public bool IsImplicit => !IsNullMx && Hosts.Count == 0;
}
