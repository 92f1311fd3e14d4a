using System.Net;

namespace Router.LoadTest.Generator;

/// <summary>A target did not answer, or did not speak SMTP, when probed before the run.</summary>
public sealed class TargetUnavailableException : Exception
{
    public TargetUnavailableException(IPEndPoint target, string message, Exception? inner = null)
        : base(message, inner) => Target = target;

    public IPEndPoint Target { get; }
}
