namespace Router.EndToEnd.Tests.Inbound;

/// <summary>The test classes that share one <see cref="InboundRouterFixture"/> (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class InboundRouterCollection : ICollectionFixture<InboundRouterFixture>
{
    public const string Name = "inbound router";
}
