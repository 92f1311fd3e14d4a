using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Router.Actors.Admin;

/// <summary>
/// The node's counters, exported in Prometheus text format on the admin HTTP endpoint. Plain
/// Interlocked counters: incrementing one costs a few nanoseconds on the hot path.
/// </summary>
public static class RouterMetrics
{
    private static long _connectionsAccepted;
    private static long _connectionsRefused;
    private static long _messagesAccepted;
    private static long _messagesRejected;
    private static long _recipientsRejected;
    private static long _authFailures;
    private static long _localDeliveries;
    private static long _remoteDelivered;
    private static long _remoteDeferred;
    private static long _remoteFailed;
    private static long _sessionsOpen;

    /// <summary>Per DNSBL zone (router.smtp.dnsbl): RCPT commands refused for its listing, lookups that failed.</summary>
    private static readonly ConcurrentDictionary<string, DnsblCounters> Dnsbl = new(StringComparer.Ordinal);

    public static void ConnectionAccepted()
    {
        Interlocked.Increment(ref _connectionsAccepted);
        Interlocked.Increment(ref _sessionsOpen);
    }

    public static void SessionClosed() => Interlocked.Decrement(ref _sessionsOpen);

    public static void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    public static void MessageAccepted() => Interlocked.Increment(ref _messagesAccepted);

    public static void MessageRejected() => Interlocked.Increment(ref _messagesRejected);

    /// <summary>A RCPT command refused (4xx or 5xx), one per "NOQUEUE: reject: RCPT" log line.</summary>
    public static void RecipientRejected() => Interlocked.Increment(ref _recipientsRejected);

    /// <summary>An AUTH attempt refused (535), one per "SASL ... authentication failed" log line.</summary>
    public static void AuthFailed() => Interlocked.Increment(ref _authFailures);

    /// <summary>The zones of router.smtp.dnsbl, so each is exported from the start, at 0.</summary>
    public static void TrackDnsbl(IEnumerable<string> zones)
    {
        foreach (var zone in zones) DnsblOf(zone);
    }

    /// <summary>A RCPT refused because the client is listed in <paramref name="zone"/> (one per "blocked using" reject line).</summary>
    public static void DnsblHit(string zone) => Interlocked.Increment(ref DnsblOf(zone).Hits);

    /// <summary>A lookup in <paramref name="zone"/> that failed (timeout, SERVFAIL...): the client was not refused by that list.</summary>
    public static void DnsblLookupFailed(string zone) => Interlocked.Increment(ref DnsblOf(zone).Failures);

    private static DnsblCounters DnsblOf(string zone) => Dnsbl.GetOrAdd(zone, _ => new DnsblCounters());

    public static void LocalDelivery() => Interlocked.Increment(ref _localDeliveries);

    public static void RemoteOutcome(Delivery.RecipientOutcome outcome)
    {
        switch (outcome)
        {
            case Delivery.RecipientOutcome.Delivered: Interlocked.Increment(ref _remoteDelivered); break;
            case Delivery.RecipientOutcome.Deferred: Interlocked.Increment(ref _remoteDeferred); break;
            default: Interlocked.Increment(ref _remoteFailed); break;
        }
    }

    public static long SessionsOpen => Interlocked.Read(ref _sessionsOpen);

    public static long MessagesAccepted => Interlocked.Read(ref _messagesAccepted);

    /// <summary>The counters in Prometheus exposition format (text/plain; version=0.0.4).</summary>
    /// <param name="spool">The spool log's usage (one node), or null (a cluster keeps bodies in PostgreSQL).</param>
    public static string ToPrometheus(int queuedMessages, Storage.SpoolUsage? spool, Ownership ownership, Router.Protocol.BodyMemoryBudget bodies, Delivery.DeliverySlots deliverySlots)
    {
        var sb = new StringBuilder();
        StringBuilder Header(string name, string help, string type) =>
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
              .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        void Counter(string name, string help, long value, string type = "counter") =>
            Header(name, help, type).Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        // A counter with one sample per value of a label (values that need no escaping).
        void Labelled(string name, string help, string label, IEnumerable<(string Value, long Count)> samples)
        {
            Header(name, help, "counter");
            foreach (var (value, count) in samples)
                sb.Append(name).Append('{').Append(label).Append("=\"").Append(value).Append("\"} ").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        Counter("router_smtp_connections_total", "SMTP connections accepted", Interlocked.Read(ref _connectionsAccepted));
        Counter("router_smtp_connections_refused_total", "SMTP connections refused by limits", Interlocked.Read(ref _connectionsRefused));
        Counter("router_smtp_sessions_open", "SMTP sessions open now", SessionsOpen, "gauge");
        Counter("router_smtp_recipients_rejected_total", "RCPT commands refused, 4xx or 5xx (unknown user, relay denied, too many recipients, syntax, sequence)", Interlocked.Read(ref _recipientsRejected));
        Counter("router_smtp_auth_failures_total", "AUTH attempts refused with 535 (wrong user name or password, or a user name locked after too many failures)", Interlocked.Read(ref _authFailures));
        var (onSocketThreads, onThreadPool) = Smtp.SessionDispatcher.Runs;
        Labelled("router_smtp_session_runs_total", "SMTP session actor runs while router.smtp.sessions-on-socket-threads is in effect: on the socket thread that completed a read, or queued on the thread pool (both 0 otherwise)",
            "on", [("socket-thread", onSocketThreads), ("thread-pool", onThreadPool)]);
        Counter("router_messages_accepted_total", "Messages answered 250 after DATA/BDAT", MessagesAccepted);
        Counter("router_messages_rejected_total", "Messages refused after DATA/BDAT (size, bare line endings, owners failed)", Interlocked.Read(ref _messagesRejected));
        Counter("router_local_deliveries_total", "Copies written durably into local Maildirs", Interlocked.Read(ref _localDeliveries));
        Counter("router_remote_delivered_total", "Remote recipients delivered", Interlocked.Read(ref _remoteDelivered));
        Counter("router_remote_deferred_total", "Remote recipient attempts deferred (4xx, connection errors)", Interlocked.Read(ref _remoteDeferred));
        Counter("router_remote_failed_total", "Remote recipients failed permanently (bounced)", Interlocked.Read(ref _remoteFailed));
        Counter("router_body_memory_bytes", "Memory held by the bodies being received (and not yet on disk)", bodies.Used, "gauge");
        Counter("router_body_memory_limit_bytes", "router.limits.max-body-memory", bodies.Limit, "gauge");
        Counter("router_queue_messages", "Messages in the queues of the domain actors on this node", queuedMessages, "gauge");
        Counter("router_delivery_attempts_active", "Delivery attempts running on this node, or slots granted to a destination about to start one (at most router.delivery.max-connections)", deliverySlots.InUse, "gauge");
        Counter("router_delivery_destinations_waiting", "Destination queues waiting for a delivery slot (router.delivery.max-connections reached)", deliverySlots.Waiting, "gauge");
        Counter("router_cluster_members_up", "Cluster members this node sees up (1 on a single node)", ownership.MembersUp, "gauge");
        Counter("router_mailbox_shards", "Mailbox shards running on this node", ownership.MailboxShards, "gauge");
        Counter("router_mailbox_entities", "Mailbox actors running on this node", ownership.MailboxEntities, "gauge");
        Counter("router_domain_shards", "Destination-domain shards running on this node", ownership.DomainShards, "gauge");
        Counter("router_domain_entities", "Destination-domain queue actors running on this node", ownership.DomainEntities, "gauge");
        if (!Dnsbl.IsEmpty)
        {
            var zones = Dnsbl.OrderBy(z => z.Key, StringComparer.Ordinal).ToArray();
            // Zones are checked to be letters, digits, '-', '_' and dots: nothing to escape in the label.
            Labelled("router_dnsbl_hits_total", "RCPT commands refused because the client is listed in the DNSBL zone (router.smtp.dnsbl)",
                "zone", zones.Select(z => (z.Key, Interlocked.Read(ref z.Value.Hits))));
            Labelled("router_dnsbl_lookup_failures_total", "DNSBL lookups that failed (timeout, SERVFAIL, REFUSED): the client was not refused by that zone",
                "zone", zones.Select(z => (z.Key, Interlocked.Read(ref z.Value.Failures))));
        }
        if (spool is { } usage)
        {
            Counter("router_spool_segments", "Segment files of the spool log", usage.Segments, "gauge");
            Counter("router_spool_bytes", "Bytes in the spool log's segment files", usage.Bytes, "gauge");
            Counter("router_spool_references", "Queued bodies in the spool log, one per destination domain", usage.References, "gauge");
        }
        return sb.ToString();
    }

    private sealed class DnsblCounters
    {
        public long Hits;
        public long Failures;
    }
}
