using Akka.Actor;

namespace Router.Actors.Sharding;

/// <summary>
/// Asks a sharded owner, at least once. Cluster sharding delivers at most once: a request that
/// reaches a shard's old node while the shard is handed over is dropped ("Dropping buffered
/// messages to shard ... during hand off to avoid re-ordering"), and so are the requests stashed in
/// a shard that fails to start (its remembered entities not loaded in time). Until the owner
/// answers, the same request goes again every <c>resendEvery</c> from the same reply address,
/// so the first answer completes the ask. Owners recognise a repeat by its queue id and never make
/// a second copy of it (see <c>DomainDeliveryActor</c> and <c>MailboxActor</c>).
/// </summary>
internal static class ShardedAsk
{
    /// <summary>How often a request goes again: often enough to ride over a hand-off well within the acknowledgement timeout.</summary>
    public static TimeSpan ResendInterval(TimeSpan ackTimeout)
    {
        var quarter = ackTimeout / 4;
        return quarter < TimeSpan.FromSeconds(2) ? quarter : TimeSpan.FromSeconds(2);
    }

    /// <summary>The owner's answer, or an <see cref="AskTimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static async Task<T> AskAsync<T>(IActorRef region, object message, TimeSpan timeout, TimeSpan resendEvery)
    {
        var replyTo = ActorRefs.NoSender;
        var answer = region.Ask<T>(
            asker =>
            {
                replyTo = asker;
                return message;
            },
            timeout,
            CancellationToken.None);
        using var done = new CancellationTokenSource();
        try
        {
            while (true)
            {
                var again = Task.Delay(resendEvery, done.Token);
                if (await Task.WhenAny(answer, again).ConfigureAwait(false) == answer) return await answer.ConfigureAwait(false);
                region.Tell(message, replyTo);
            }
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
        }
    }
}
