using Akka.Persistence;
using Akka.Persistence.TestKit;

namespace Router.Actors.Tests.Relay;

/// <summary>
/// A journal whose writes of some events fail, as SQLite's do on a full disk ("database or disk is
/// full"): the write throws, Akka.Persistence reports a persist failure and stops the actor.
/// Every other write goes through.
/// </summary>
internal sealed class FailingJournalWrites(Func<object, bool> fails) : IJournalInterceptor
{
    public Task InterceptAsync(IPersistentRepresentation message) =>
        fails(message.Payload) ? throw new IOException("database or disk is full") : Task.CompletedTask;
}
