using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Router.Actors.Configuration;

/// <summary>
/// The names of the <c>router { }</c> settings, as the shipped config/akka.hocon defines them, so
/// that a name in an operator's file that is none of them (a typo) can be reported, as Postfix
/// reports an unused parameter, instead of leaving the default silently in force.
/// </summary>
public static class SettingNames
{
    /// <summary>
    /// The settings under <paramref name="path"/>: every value that is not an object, and every
    /// map keyed by the operator's own data (addresses or domains: aliases, routes, DKIM keys...),
    /// which is one setting, as is an object that is empty by default.
    /// </summary>
    public static IEnumerable<string> Leaves(HoconValue value, string path) =>
        Paths(value, path, obj => obj.Items.Count == 0 || obj.Items.Keys.Any(k => k.Contains('@') || k.Contains('.')));

    /// <summary>The router.* names set in <paramref name="overrides"/> that are no setting of <paramref name="defaults"/> nor inside one.</summary>
    public static IReadOnlyList<string> Unknown(Config defaults, Config overrides)
    {
        if (!overrides.HasPath("router") || !defaults.HasPath("router")) return [];
        var known = Leaves(defaults.GetConfig("router").Root, "router").ToHashSet(StringComparer.Ordinal);
        // Every value the operator set; an empty object sets nothing.
        return Paths(overrides.GetConfig("router").Root, "router", _ => false)
            .Where(path => !known.Contains(path) && !known.Any(k => path.StartsWith(k + ".", StringComparison.Ordinal)))
            .ToArray();
    }

    /// <summary>The paths under <paramref name="path"/> down to values that are not objects, or to objects <paramref name="isLeaf"/> takes as one value.</summary>
    private static IEnumerable<string> Paths(HoconValue value, string path, Func<HoconObject, bool> isLeaf)
    {
        var obj = value.GetObject();
        if (obj is null || isLeaf(obj))
        {
            yield return path;
            yield break;
        }
        foreach (var (key, child) in obj.Items)
        {
            foreach (var p in Paths(child, path + "." + key, isLeaf)) yield return p;
        }
    }
}
