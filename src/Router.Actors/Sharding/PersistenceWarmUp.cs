using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;

namespace Router.Actors.Sharding;

/// <summary>
/// Opens the journal and the snapshot store and runs one recovery through them before the node
/// takes any shard. A shard handed to a node loads its remembered entities, and its domain
/// entities their queues, through these plugins; on a node just (re)started they were cold, and on
/// a busy machine that first load took 6-8 s, past sharding's <c>updating-state-timeout</c> (5 s):
/// the shard then stopped for a back-off and dropped the requests it held.
/// </summary>
internal static class PersistenceWarmUp
{
    /// <summary>Completes when a recovery went through both plugins; returns how long it took.</summary>
    public static async Task<TimeSpan> RunAsync(ActorSystem system, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var actor = system.ActorOf(Props.Create(() => new Recovery(done)), "persistence-warm-up");
        try
        {
            await done.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch
        {
            actor.Tell(PoisonPill.Instance);
            throw;
        }
        return clock.Elapsed;
    }

    /// <summary>A persistent actor that is never written: recovering it reads the snapshot store and the journal, nothing more.</summary>
    private sealed class Recovery : ReceivePersistentActor
    {
        private readonly TaskCompletionSource _done;

        public Recovery(TaskCompletionSource done)
        {
            _done = done;
            Recover<RecoveryCompleted>(_ =>
            {
                done.TrySetResult();
                Context.Stop(Self);
            });
            Recover<object>(_ => { });
        }

        public override string PersistenceId => "router-warm-up";

        protected override void OnRecoveryFailure(Exception reason, object? message = null)
        {
            _done.TrySetException(reason);
            base.OnRecoveryFailure(reason, message);
        }
    }
}
