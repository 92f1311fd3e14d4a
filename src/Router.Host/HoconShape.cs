namespace Router.Host;

/// <summary>
/// What Akka's HOCON parser does not check before it parses: braces and brackets that pair up and
/// strings that end. Without this, an unclosed "router {" was taken silently, and an unclosed "["
/// made the parser loop for ever (`router check` never returned).
/// </summary>
internal static class HoconShape
{
    /// <summary>Null when the text's brackets pair up and its strings end; else what is wrong and on which line.</summary>
    public static string? Problem(string text)
    {
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n') line++;
            else if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n') i++;
            }
            else if (c == '"')
            {
                var start = line;
                var triple = string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0;
                i += triple ? 3 : 1;
                while (i < text.Length && !(triple ? string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0 : text[i] == '"'))
                {
                    if (text[i] == '\n')
                    {
                        if (!triple) return $"line {start}: a string is not closed";
                        line++;
                    }
                    if (!triple && text[i] == '\\') i++;
                    i++;
                }
                if (i >= text.Length) return $"line {start}: a string is not closed";
                if (triple) i += 2;
            }
            else if (c is '{' or '[') open.Push((c, line));
            else if (c is '}' or ']')
            {
                if (open.Count == 0) return $"line {line}: '{c}' closes nothing open";
                var (bracket, at) = open.Pop();
                if (bracket != (c == '}' ? '{' : '[')) return $"line {line}: '{c}' where the '{bracket}' of line {at} is still open";
            }
        }
        return open.Count == 0 ? null : $"line {open.Peek().Line}: '{open.Peek().Bracket}' is not closed";
    }
}
