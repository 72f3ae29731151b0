using System.Globalization;
using System.Text;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// A JSON Schema "pattern" as a regex over the JSON text between a string's quotes. The pattern is an ECMAScript regex
/// searched for in the decoded string: each top-level branch matches anywhere unless it starts with ^ / ends with $
/// (so "ab" allows "xaby", "^ab$" only "ab"). It is parsed on its own (an unbalanced "x)|(.*" is an error, never
/// pasted into the surrounding regex), the unanchored sides become "any characters", and every character the
/// language allows is spelled as JSON spells it: '"' and '\' escaped, control characters by their short escape or
/// \u00XX. The result is printed back as regex text that <see cref="RegexParser"/> reads.
/// </summary>
internal static class JsonStringPattern
{
    private static readonly CodePointSet NeedEscape = CodePointSet.FromRanges([(0, 0x1F), ('"', '"'), ('\\', '\\')]);

    public static string ToRegex(string pattern, GrammarLimits limits)
    {
        var node = RegexParser.ParseSearch(pattern, limits);
        var text = new StringBuilder();
        Print(node, text);
        return text.ToString();
    }

    private static void Print(RegexNode node, StringBuilder text)
    {
        switch (node)
        {
            case SetNode set:
                PrintSet(set.Set, text);
                break;
            case ConcatNode concat:
                text.Append("(?:");
                foreach (var item in concat.Items) Print(item, text);
                text.Append(')');
                break;
            case AltNode alt:
                text.Append("(?:");
                for (int i = 0; i < alt.Items.Length; i++)
                {
                    if (i > 0) text.Append('|');
                    Print(alt.Items[i], text);
                }
                text.Append(')');
                break;
            case RepeatNode repeat:
                text.Append("(?:");
                Print(repeat.Item, text);
                text.Append(')');
                text.Append(repeat.Max < 0 ? $"{{{repeat.Min},}}" : $"{{{repeat.Min},{repeat.Max}}}");
                break;
            default:
                throw new InvalidOperationException("unknown regex node " + node.GetType().Name);
        }
    }

    /// <summary>One decoded character from the set, as JSON text: an alternation of a plain class and the escapes.</summary>
    private static void PrintSet(CodePointSet set, StringBuilder text)
    {
        var alternatives = new List<string>();
        var plain = set.Negate().Union(NeedEscape).Negate();
        if (!plain.IsEmpty)
        {
            var cls = new StringBuilder("[");
            foreach (var (lo, hi) in plain.Ranges)
            {
                cls.Append(CultureInfo.InvariantCulture, $"\\u{{{lo:X}}}");
                if (hi > lo) cls.Append(CultureInfo.InvariantCulture, $"-\\u{{{hi:X}}}");
            }
            alternatives.Add(cls.Append(']').ToString());
        }
        if (set.Contains('"')) alternatives.Add(@"\\""");
        if (set.Contains('\\')) alternatives.Add(@"\\\\");
        for (int c = 0; c < 0x20; c++)
        {
            if (!set.Contains(c)) continue;
            string? shortForm = c switch { '\b' => "b", '\f' => "f", '\n' => "n", '\r' => "r", '\t' => "t", _ => null };
            string hex = c.ToString("x2", CultureInfo.InvariantCulture);
            string last = char.IsAsciiLetter(hex[1]) ? $"[{hex[1]}{char.ToUpperInvariant(hex[1])}]" : hex[1].ToString();
            alternatives.Add(shortForm is null ? $@"\\u00{hex[0]}{last}" : $@"\\(?:{shortForm}|u00{hex[0]}{last})");
        }
        if (alternatives.Count == 0) text.Append("(?!)");
        else text.Append("(?:").AppendJoin('|', alternatives).Append(')');
    }
}
