using System.CommandLine;
using System.Text;
using Akka.Configuration;
using Router.Actors.Security;

namespace Router.Host;

/// <summary>
/// <c>router user add NAME [--password-stdin]</c>, <c>router user remove NAME</c> and
/// <c>router user list</c>: edit the SMTP AUTH users file that --config's router.auth.users-file
/// names (default &lt;data-dir&gt;/users). The running router rereads the file when it changes.
/// </summary>
internal static class UserCommands
{
    public static Command Create()
    {
        var user = new Command("user", "Manage the users who may authenticate (SMTP AUTH)");

        var addConfig = ConfigOption();
        var addName = new Argument<string>("name") { Description = "User name (often the user's address)" };
        var fromStdin = new Option<bool>("--password-stdin") { Description = "Read the password from the first line of standard input" };
        var add = new Command("add", "Add a user, or set a new password") { addConfig, addName, fromStdin };
        add.SetAction(result => Add(result.GetValue(addConfig)?.FullName, result.GetValue(addName)!, result.GetValue(fromStdin)));

        var removeConfig = ConfigOption();
        var removeName = new Argument<string>("name") { Description = "User name" };
        var remove = new Command("remove", "Remove a user") { removeConfig, removeName };
        remove.SetAction(result => Edit(result.GetValue(removeConfig)?.FullName, store =>
        {
            var name = result.GetValue(removeName)!;
            if (store.Remove(name))
            {
                Console.WriteLine($"router: removed user {name}");
                return 0;
            }
            Console.Error.WriteLine($"router: no user {name} in {store.FilePath}");
            return 1;
        }));

        var listConfig = ConfigOption();
        var list = new Command("list", "List the users") { listConfig };
        list.SetAction(result => Edit(result.GetValue(listConfig)?.FullName, store =>
        {
            foreach (var name in store.List()) Console.WriteLine(name);
            return 0;
        }));

        user.Subcommands.Add(add);
        user.Subcommands.Add(remove);
        user.Subcommands.Add(list);
        return user;
    }

    private static Option<FileInfo?> ConfigOption() => new("--config") { Description = "HOCON file whose values override config/akka.hocon" };

    private static int Add(string? configPath, string name, bool passwordFromStdin)
    {
        try
        {
            UserStore.CheckName(name);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"router: {Why(e)}");
            return 2;
        }
        var password = passwordFromStdin || Console.IsInputRedirected ? Console.In.ReadLine() : Prompt();
        if (string.IsNullOrEmpty(password))
        {
            Console.Error.WriteLine("router: no password given");
            return 2;
        }
        return Edit(configPath, store =>
        {
            var existed = store.Set(name, password);
            Console.WriteLine(existed ? $"router: changed the password of {name}" : $"router: added user {name}");
            return 0;
        });
    }

    private static int Edit(string? configPath, Func<UserStore, int> action)
    {
        try
        {
            var (_, settings) = ConfigLoader.Load(configPath);
            return action(new UserStore(settings.Security.UsersFileIn(settings.DataDir)));
        }
        catch (Exception e) when (e is ConfigurationException or FileNotFoundException or FormatException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"router: {Why(e)}");
            return 2;
        }
    }

    /// <summary>The message without the " (Parameter 'user')" that .NET appends to an ArgumentException's: the operator named no parameter.</summary>
    private static string Why(Exception e) =>
        e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;

    /// <summary>Asks twice on the terminal, without echo.</summary>
    private static string? Prompt()
    {
        var first = ReadHidden("Password: ");
        var second = ReadHidden("Again: ");
        if (first == second) return first;
        Console.Error.WriteLine("router: the passwords differ");
        return null;
    }

    private static string ReadHidden(string prompt)
    {
        Console.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0) text.Length--;
                continue;
            }
            if (!char.IsControl(key.KeyChar)) text.Append(key.KeyChar);
        }
        Console.WriteLine();
        return text.ToString();
    }
}
