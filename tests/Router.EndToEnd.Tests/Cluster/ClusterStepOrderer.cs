using Xunit.Abstractions;
using Xunit.Sdk;

namespace Router.EndToEnd.Tests.Cluster;

/// <summary>Marks the place of a test in a class that shares one cluster: the calm checks run before the ones that kill nodes.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ClusterStepAttribute(int step) : Attribute
{
    public int Step { get; } = step;
}

/// <summary>Runs a class's tests in the order of their <see cref="ClusterStepAttribute"/>.</summary>
public sealed class ClusterStepOrderer : ITestCaseOrderer
{
    public const string TypeName = "Router.EndToEnd.Tests.Cluster.ClusterStepOrderer";
    public const string AssemblyName = "Router.EndToEnd.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method
            .GetCustomAttributes(typeof(ClusterStepAttribute).AssemblyQualifiedName)
            .Select(a => (int)a.GetConstructorArguments().First())
            .FirstOrDefault(int.MaxValue));
}
