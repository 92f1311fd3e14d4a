using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Configuration;
using System.Runtime.Serialization;
using Akka.Serialization;

namespace Router.Actors.Delivery;

/// <summary>
/// Serializes what the domain queues persist (<see cref="QueueEvent"/>s and
/// <see cref="DomainQueueSnapshot"/>s) as compact JSON through System.Text.Json's generated code.
/// Akka's default (Newtonsoft with type names) found its converters by reflection for every
/// event: about a tenth of the router's CPU on the relay path. The manifest names the type, so
/// the JSON carries no type names. Rows written earlier by another serializer keep that
/// serializer's id in the journal and are still read by it. A field added later is optional,
/// so rows written before it still load (Attempted.AttemptedAt, QueueEntry.LastAttemptAt and
/// RecipientResult.PeerOfferedDsn then read as null, QueueEntry.SuccessNoticeDone as empty).
/// </summary>
public sealed class QueueSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const string EnqueuedManifest = "E";
    private const string AttemptedManifest = "A";
    private const string DelayNotifiedManifest = "D";
    private const string BouncedManifest = "B";
    private const string RemovedManifest = "R";
    private const string SuccessNotifiedManifest = "N";
    private const string SnapshotManifest = "S";

    /// <summary>Registers the serializer for the queue's persisted types (fall back to it in every actor system that runs domain queues).</summary>
    public static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor {
          serializers.router-queue = "Router.Actors.Delivery.QueueSerializer, Router.Actors"
          serialization-bindings {
            "Router.Actors.Delivery.QueueEvent, Router.Actors" = router-queue
            "Router.Actors.Delivery.DomainQueueSnapshot, Router.Actors" = router-queue
          }
          serialization-identifiers."Router.Actors.Delivery.QueueSerializer, Router.Actors" = 7301
        }
        """);

    public override int Identifier => 7301;

    public override string Manifest(object o) => o switch
    {
        QueueEvent.Enqueued => EnqueuedManifest,
        QueueEvent.Attempted => AttemptedManifest,
        QueueEvent.DelayNotified => DelayNotifiedManifest,
        QueueEvent.Bounced => BouncedManifest,
        QueueEvent.Removed => RemovedManifest,
        QueueEvent.SuccessNotified => SuccessNotifiedManifest,
        DomainQueueSnapshot => SnapshotManifest,
        _ => throw new ArgumentException($"{nameof(QueueSerializer)} cannot serialize {o.GetType()}"),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        QueueEvent.Enqueued e => JsonSerializer.SerializeToUtf8Bytes(e, QueueJson.Default.Enqueued),
        QueueEvent.Attempted e => JsonSerializer.SerializeToUtf8Bytes(e, QueueJson.Default.Attempted),
        QueueEvent.DelayNotified e => JsonSerializer.SerializeToUtf8Bytes(e, QueueJson.Default.DelayNotified),
        QueueEvent.Bounced e => JsonSerializer.SerializeToUtf8Bytes(e, QueueJson.Default.Bounced),
        QueueEvent.Removed e => JsonSerializer.SerializeToUtf8Bytes(e, QueueJson.Default.Removed),
        QueueEvent.SuccessNotified e => JsonSerializer.SerializeToUtf8Bytes(e, QueueJson.Default.SuccessNotified),
        DomainQueueSnapshot s => JsonSerializer.SerializeToUtf8Bytes(s, QueueJson.Default.DomainQueueSnapshot),
        _ => throw new ArgumentException($"{nameof(QueueSerializer)} cannot serialize {obj.GetType()}"),
    };

    public override object FromBinary(byte[] bytes, string manifest) => manifest switch
    {
        EnqueuedManifest => Read(bytes, QueueJson.Default.Enqueued),
        AttemptedManifest => Read(bytes, QueueJson.Default.Attempted),
        DelayNotifiedManifest => Read(bytes, QueueJson.Default.DelayNotified),
        BouncedManifest => Read(bytes, QueueJson.Default.Bounced),
        RemovedManifest => Read(bytes, QueueJson.Default.Removed),
        SuccessNotifiedManifest => Read(bytes, QueueJson.Default.SuccessNotified),
        SnapshotManifest => Read(bytes, QueueJson.Default.DomainQueueSnapshot),
        _ => throw new SerializationException($"{nameof(QueueSerializer)}: unknown manifest '{manifest}'"),
    };

    private static T Read<T>(byte[] bytes, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(bytes, type) ?? throw new SerializationException($"{nameof(QueueSerializer)}: empty {typeof(T).Name}");
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QueueEvent.Enqueued), TypeInfoPropertyName = "Enqueued")]
[JsonSerializable(typeof(QueueEvent.Attempted), TypeInfoPropertyName = "Attempted")]
[JsonSerializable(typeof(QueueEvent.DelayNotified), TypeInfoPropertyName = "DelayNotified")]
[JsonSerializable(typeof(QueueEvent.Bounced), TypeInfoPropertyName = "Bounced")]
[JsonSerializable(typeof(QueueEvent.Removed), TypeInfoPropertyName = "Removed")]
[JsonSerializable(typeof(QueueEvent.SuccessNotified), TypeInfoPropertyName = "SuccessNotified")]
[JsonSerializable(typeof(DomainQueueSnapshot))]
internal sealed partial class QueueJson : JsonSerializerContext;
