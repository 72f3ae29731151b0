using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Turns a pre-tokenizer regex as llama.cpp writes it into a .NET regex with the meaning llama.cpp gives it
/// (unicode.cpp, unicode_regex_split). llama.cpp runs ECMAScript std::regex in one of two ways:
/// a regex that names \p{N}, \p{L}, \p{P}, \p{M}, \p{S} or \p{Lu|Ll|Lt|Lm|Lo} runs on the "collapsed" text
/// (<see cref="UnicodeClass.Collapse"/>), each category becoming its marker plus its ASCII members (so every \p{L*} means any
/// letter); any other regex runs on the code points themselves with non-ASCII whitespace replaced by \v.
/// ECMAScript differences from .NET are spelled out: \d and \w are ASCII, $ is the end of the piece, . excludes line
/// terminators, and a code point above U+FFFF in a character class becomes its surrogate pairs.
/// </summary>
internal static class LlamaRegex
{
    private static readonly string[] CategoryNames = [@"\p{N}", @"\p{L}", @"\p{P}", @"\p{M}", @"\p{S}", @"\p{Lu}", @"\p{Ll}", @"\p{Lt}", @"\p{Lm}", @"\p{Lo}"];

    private static readonly (int Lo, int Hi)[] Digits = [('0', '9')];
    private static readonly (int Lo, int Hi)[] WordChars = [('A', 'Z'), ('a', 'z'), ('0', '9'), ('_', '_')];
    private const string WordBoundary = "(?:(?<=[A-Za-z0-9_])(?![A-Za-z0-9_])|(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]))";
    private const string NotWordBoundary = "(?:(?<=[A-Za-z0-9_])(?=[A-Za-z0-9_])|(?<![A-Za-z0-9_])(?![A-Za-z0-9_]))";

    /// <summary>True when llama.cpp would run the regex on collapsed text.</summary>
    public static bool UsesCategories(string pattern) => CategoryNames.Any(pattern.Contains);

    /// <summary>The .NET pattern; throws <see cref="ArgumentException"/> for what llama.cpp would also refuse.</summary>
    public static string Translate(string pattern)
    {
        bool collapsed = UsesCategories(pattern);
        var output = new StringBuilder(pattern.Length * 2);
        int[] cps = pattern.EnumerateRunes().Select(r => r.Value).ToArray();
        for (int i = 0; i < cps.Length;)
        {
            int c = cps[i];
            if (c == '[')
            {
                output.Append(TranslateClass(cps, ref i, collapsed));
                continue;
            }
            if (c == '\\')
            {
                if (i + 1 >= cps.Length) throw new ArgumentException("the regex ends with a lone backslash");
                int e = cps[i + 1];
                if (e == 'p')
                {
                    output.Append('[').Append(Render(CategoryRanges(cps, ref i, collapsed))).Append(']');
                    continue;
                }
                i += 2;
                output.Append(e switch
                {
                    'd' => "[0-9]",
                    'D' => "[^0-9]",
                    'w' => "[A-Za-z0-9_]",
                    'W' => "[^A-Za-z0-9_]",
                    'b' => WordBoundary,
                    'B' => NotWordBoundary,
                    _ => "\\" + char.ConvertFromUtf32(e),
                });
                continue;
            }
            i++;
            if (c == '$') output.Append(@"\z");
            else if (c == '^') output.Append(@"\A");
            else if (c == '.') output.Append(collapsed ? @"[^\n\r]" : @"(?:[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\n\r\u2028\u2029])");
            else if (c < 128) output.Append((char)c);
            else if (collapsed) throw new ArgumentException("a regex with Unicode categories must not hold non-ASCII characters (llama.cpp refuses it too)");
            else output.Append("(?:").Append(Escape(c)).Append(')');
        }
        return output.ToString();
    }

    private sealed class ClassItems
    {
        public readonly List<(int Lo, int Hi)> Ranges = [];
        public readonly List<string> Escapes = [];
    }

    private static string TranslateClass(int[] cps, ref int i, bool collapsed)
    {
        i++; // '['
        bool negated = i < cps.Length && cps[i] == '^';
        if (negated) i++;
        var items = new ClassItems();
        bool first = true;
        while (true)
        {
            if (i >= cps.Length) throw new ArgumentException("a character class is not closed");
            if (cps[i] == ']' && !first) { i++; break; }
            first = false;
            int? literal = ClassAtom(cps, ref i, collapsed, items);
            if (literal is not int lo) continue;
            if (i + 1 < cps.Length && cps[i] == '-' && cps[i + 1] != ']')
            {
                i++;
                int? hiAtom = ClassAtom(cps, ref i, collapsed, items);
                if (hiAtom is not int hi) throw new ArgumentException("a class range ends in a class escape");
                if (hi < lo) throw new ArgumentException("a class range is reversed");
                items.Ranges.Add((lo, hi));
            }
            else items.Ranges.Add((lo, lo));
        }

        // llama.cpp matches code points, so its text never holds a surrogate: a BMP range spanning D800-DFFF (afmoe's
        // U+8C48-U+FAFF) must not catch the halves of a .NET surrogate pair.
        var ranges = WithoutSurrogates(items.Ranges).ToList();
        items.Ranges.Clear();
        items.Ranges.AddRange(ranges);
        bool supplementary = items.Ranges.Any(r => r.Hi > 0xFFFF);
        if (!supplementary) return (negated ? "[^" : "[") + Render(items.Ranges) + string.Concat(items.Escapes) + "]";
        if (negated) throw new ArgumentException("a negated class with characters above U+FFFF is not supported");

        // Code points above U+FFFF are surrogate pairs to .NET: match them as pairs beside the BMP class.
        var alternatives = new List<string>();
        var bmp = items.Ranges.Where(r => r.Lo <= 0xFFFF).Select(r => (r.Lo, Math.Min(r.Hi, 0xFFFF))).ToList();
        if (bmp.Count > 0 || items.Escapes.Count > 0) alternatives.Add("[" + Render(bmp) + string.Concat(items.Escapes) + "]");
        foreach (var (lo, hi) in items.Ranges.Where(r => r.Hi > 0xFFFF)) alternatives.AddRange(SurrogateRanges(Math.Max(lo, 0x10000), hi));
        return "(?:" + string.Join('|', alternatives) + ")";
    }

    private static IEnumerable<(int Lo, int Hi)> WithoutSurrogates(IEnumerable<(int Lo, int Hi)> ranges)
    {
        foreach (var (lo, hi) in ranges)
        {
            if (hi < 0xD800 || lo > 0xDFFF)
            {
                yield return (lo, hi);
                continue;
            }
            if (lo < 0xD800) yield return (lo, 0xD7FF);
            if (hi > 0xDFFF) yield return (0xE000, hi);
        }
    }

    /// <summary>Reads one class member: returns its code point, or null after adding a class escape to items.</summary>
    private static int? ClassAtom(int[] cps, ref int i, bool collapsed, ClassItems items)
    {
        int c = cps[i];
        if (c != '\\')
        {
            if (collapsed && c >= 128) throw new ArgumentException("a regex with Unicode categories must not hold non-ASCII characters (llama.cpp refuses it too)");
            i++;
            return c;
        }
        if (i + 1 >= cps.Length) throw new ArgumentException("the regex ends with a lone backslash");
        int e = cps[i + 1];
        switch (e)
        {
            case 'p':
                items.Ranges.AddRange(CategoryRanges(cps, ref i, collapsed));
                return null;
            case 'd':
                items.Ranges.AddRange(Digits);
                i += 2;
                return null;
            case 'w':
                items.Ranges.AddRange(WordChars);
                i += 2;
                return null;
            case 's' or 'S':
                items.Escapes.Add(e == 's' ? @"\s" : @"\S");
                i += 2;
                return null;
            case 'D' or 'W':
                throw new ArgumentException($"\\{(char)e} inside a character class is not supported");
            case 'x' when i + 3 < cps.Length:
                i += 4;
                return Convert.ToInt32(new string([(char)cps[i - 2], (char)cps[i - 1]]), 16);
            default:
                i += 2;
                return e switch { 'n' => '\n', 'r' => '\r', 't' => '\t', 'f' => '\f', 'v' => '\v', '0' => '\0', _ => e };
        }
    }

    /// <summary>\p{X} at cps[i]: its collapsed marker plus its ASCII members, as llama.cpp's k_ucat_map writes them.</summary>
    private static IEnumerable<(int Lo, int Hi)> CategoryRanges(int[] cps, ref int i, bool collapsed)
    {
        int close = Array.IndexOf(cps, '}', i);
        if (i + 2 >= cps.Length || cps[i + 2] != '{' || close < 0) throw new ArgumentException("\\p without {name}");
        string name = string.Concat(cps[(i + 3)..close].Select(char.ConvertFromUtf32));
        i = close + 1;
        if (!collapsed) throw new ArgumentException($"unicode category \\p{{{name}}} is not one llama.cpp's regex path knows");
        return name switch
        {
            "N" => [(UnicodeClass.CollapsedNumber, UnicodeClass.CollapsedNumber), ('0', '9')],
            "L" or "Lu" or "Ll" or "Lt" or "Lm" or "Lo" => [(UnicodeClass.CollapsedLetter, UnicodeClass.CollapsedLetter), ('A', 'Z'), ('a', 'z')],
            "P" => [(UnicodeClass.CollapsedPunctuation, UnicodeClass.CollapsedPunctuation), ('!', '#'), ('%', '*'), (',', '/'), (':', ';'), ('?', '@'), ('[', ']'), ('_', '_'), ('{', '{'), ('}', '}')],
            "M" => [(UnicodeClass.CollapsedMark, UnicodeClass.CollapsedMark)],
            "S" => [(UnicodeClass.CollapsedSymbol, UnicodeClass.CollapsedSymbol), ('$', '$'), ('+', '+'), ('<', '>'), ('^', '^'), ('`', '`'), ('|', '|'), ('~', '~')],
            _ => throw new ArgumentException($"unicode category \\p{{{name}}} is not one llama.cpp's regex path knows"),
        };
    }

    private static string Render(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var text = new StringBuilder();
        foreach (var (lo, hi) in ranges)
        {
            text.Append(Escape(lo));
            if (hi != lo) text.Append('-').Append(Escape(hi));
        }
        return text.ToString();
    }

    private static string Escape(int c) => c <= 0xFFFF
        ? $"\\u{c:X4}"
        : string.Concat(char.ConvertFromUtf32(c).Select(u => $"\\u{(int)u:X4}"));

    /// <summary>[lo, hi] above U+FFFF as alternatives "high-surrogate [low-surrogate range]".</summary>
    private static IEnumerable<string> SurrogateRanges(int lo, int hi)
    {
        for (int start = lo; start <= hi;)
        {
            int high = 0xD800 + ((start - 0x10000) >> 10);
            int blockEnd = Math.Min(hi, 0x10000 + ((high - 0xD800 + 1) << 10) - 1);
            int lowStart = 0xDC00 + ((start - 0x10000) & 0x3FF), lowEnd = 0xDC00 + ((blockEnd - 0x10000) & 0x3FF);
            yield return $"\\u{high:X4}[\\u{lowStart:X4}-\\u{lowEnd:X4}]";
            start = blockEnd + 1;
        }
    }
}
