namespace Router.Protocol.Delivery;

/// <summary>
/// One MX resource record as DNS returned it (RFC 5321 s5.1, RFC 1035 s3.3.9): a preference
/// (lower is tried first) and the exchange host name. An exchange of "." is the null MX of RFC 7505.
/// </summary>
public readonly record struct MxRecord(int Preference, string Exchange);
