using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Router.Actors.Configuration;

namespace Router.Host;

/// <summary>
/// Loads config/akka.hocon (shipped beside the executable, or in the working folder's config/)
/// and, with --config, a file whose values override it. A relative path in a file is taken from
/// that file's folder; the defaults' relative paths (data-dir = "data") from the working folder.
/// </summary>
internal static class ConfigLoader
{
    public static (Config Config, RouterSettings Settings) Load(string? overridePath)
    {
        var defaults = Parse(DefaultConfigPath());
        var config = defaults;
        string? overrideDir = null;
        Config? overrides = null;
        if (overridePath is not null)
        {
            var full = Path.GetFullPath(overridePath);
            if (!File.Exists(full)) throw new FileNotFoundException($"configuration file not found: {full}");
            overrides = Parse(full);
            overrideDir = Path.GetDirectoryName(full)!;
            config = overrides.WithFallback(defaults);
            foreach (var name in SettingNames.Unknown(defaults, overrides))
            {
                Console.Error.WriteLine($"router: warning: {name} (in {full}) is not a setting and is ignored; the settings are listed in config/akka.hocon");
            }
        }
        // The host handles SIGTERM/SIGINT itself: drain the SMTP sessions, then stop the actor system.
        // Akka's own hook would start the actor system's shutdown on the same signal and cut the
        // transactions being drained, so it is off whatever the files say.
        config = ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off").WithFallback(config);
        var cwd = Directory.GetCurrentDirectory();
        var settings = RouterSettings.FromConfig(config, key =>
            overrides is not null && overrides.HasPath("router." + key) ? overrideDir! : cwd);
        return (config, settings);
    }

    private static Config Parse(string path) => new(ParseFile(path));

    /// <summary>
    /// A file that is not HOCON fails in one line naming the file and line, an included one too.
    /// An address as a key is the usual cause: unquoted, its '@' is no HOCON at all.
    /// </summary>
    private static Akka.Configuration.Hocon.HoconRoot ParseFile(string path)
    {
        var text = Read(path);
        try
        {
            return Akka.Configuration.Hocon.Parser.Parse(text, name => Include(path, name));
        }
        catch (Exception e) when (e is FormatException or ConfigurationException && e is not Located)
        {
            // Akka's message is "Unknown token at position N:" and the text around it on further lines.
            var message = e.Message.Split('\n')[0].Trim().TrimEnd(':');
            var position = Regex.Match(message, @"at position (\d+)");
            var line = position.Success && int.TryParse(position.Groups[1].Value, CultureInfo.InvariantCulture, out var at)
                ? $", line {text.AsSpan(0, Math.Min(at, text.Length)).Count('\n') + 1}"
                : "";
            throw new Located($"{path}{line}: {message} (keys with '@', such as addresses, must be quoted: \"user@example.test\" = ...)");
        }
    }

    private static string Read(string path)
    {
        var text = File.ReadAllText(path);
        if (HoconShape.Problem(text) is { } problem) throw new Located($"{path}, {problem}");
        return text;
    }

    /// <summary>
    /// <c>include "file"</c> (HOCON): the file relative to the including file's folder, as other
    /// relative paths in a configuration are. Akka's parser has no resolver of its own (it failed
    /// with a NullReferenceException).
    /// </summary>
    private static Akka.Configuration.Hocon.HoconRoot Include(string including, string name)
    {
        var file = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(including))!, name);
        if (!File.Exists(file)) throw new Located($"{including}: include \"{name}\": {file} does not exist");
        return ParseFile(file);
    }

    /// <summary>An error whose message already names its file (and line): the including file's parse passes it on as it is.</summary>
    private sealed class Located(string message) : ConfigurationException(message);

    private static string DefaultConfigPath()
    {
        foreach (var candidate in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "config", "akka.hocon"),
            Path.Combine(Directory.GetCurrentDirectory(), "config", "akka.hocon"),
        })
        {
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("config/akka.hocon not found beside the executable or in the working folder");
    }
}
