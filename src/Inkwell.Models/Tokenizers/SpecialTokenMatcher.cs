using System.Buffers;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Finds control and added tokens written literally in text (e.g. "&lt;|im_start|&gt;") and cuts the text around
/// them, as llama.cpp's tokenizer_st_partition does: longest token first, optional stripping of the
/// whitespace to the left (lstrip) or right (rstrip) of a token.
/// </summary>
internal sealed class SpecialTokenMatcher
{
    /// <summary>A piece of the input: either raw text [Start, End) or the token Id found at [Start, End).</summary>
    public readonly record struct Fragment(bool IsToken, int Id, int Start, int End);

    public readonly record struct Entry(string Text, int Id, bool OnlyWhenParsingSpecial, bool LStrip, bool RStrip);

    private readonly Dictionary<char, Entry[]> _byFirstChar;
    private readonly SearchValues<char> _firstChars;

    public SpecialTokenMatcher(IEnumerable<Entry> entries)
    {
        _byFirstChar = entries
            .Where(e => e.Text.Length > 0)
            .GroupBy(e => e.Text[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(e => e.Text.Length).ThenBy(e => e.Id).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    public int Count => _byFirstChar.Values.Sum(a => a.Length);

    public void Split(string text, bool parseSpecial, List<Fragment> output)
    {
        int rawStart = 0, pos = 0;
        while (pos < text.Length)
        {
            int hit = text.AsSpan(pos).IndexOfAny(_firstChars);
            if (hit < 0) break;
            int at = pos + hit;
            Entry? found = null;
            foreach (var entry in _byFirstChar[text[at]])
            {
                if (entry.OnlyWhenParsingSpecial && !parseSpecial) continue;
                if (text.AsSpan(at).StartsWith(entry.Text, StringComparison.Ordinal))
                {
                    found = entry;
                    break;
                }
            }
            if (found is not { } token)
            {
                pos = at + 1;
                continue;
            }

            int rawEnd = at;
            if (token.LStrip) while (rawEnd > rawStart && IsAsciiSpace(text[rawEnd - 1])) rawEnd--;
            if (rawEnd > rawStart) output.Add(new Fragment(false, -1, rawStart, rawEnd));
            output.Add(new Fragment(true, token.Id, at, at + token.Text.Length));
            pos = at + token.Text.Length;
            if (token.RStrip) while (pos < text.Length && IsAsciiSpace(text[pos])) pos++;
            rawStart = pos;
        }
        if (rawStart < text.Length) output.Add(new Fragment(false, -1, rawStart, text.Length));
    }

    // C isspace(): the stripping rule llama.cpp applies.
    private static bool IsAsciiSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
