using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Splits text into words with a sequence of regexes, each applied to the pieces the previous one left;
/// matches and the gaps between them both become words (Hugging Face's "Isolated" behaviour, and what
/// llama.cpp's unicode_regex_split does).
/// </summary>
/// <remarks>
/// .NET regexes see UTF-16 code units, so a supplementary character (emoji, math letters) would look like
/// two surrogates of category Cs and split mid-character. Before matching, each supplementary code point is
/// therefore replaced by one BMP stand-in of the same Unicode category, and match positions are mapped back.
/// </remarks>
internal sealed class PreTokenizer
{
    private static readonly ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);
    private readonly Regex[] _stages;

    public PreTokenizer(IEnumerable<string> patterns) => _stages = patterns.Select(GetRegex).ToArray();

    public int StageCount => _stages.Length;

    /// <summary>Compiled once per pattern for the process; throws <see cref="ArgumentException"/> for a bad pattern.</summary>
    public static Regex GetRegex(string pattern) =>
        Compiled.GetOrAdd(pattern, p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant));

    /// <summary>Appends the words of text[start..end) as absolute [Start, End) ranges.</summary>
    public void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> words)
    {
        if (end <= start) return;
        ReadOnlySpan<char> slice = text[start..end];
        if (_stages.Length == 0)
        {
            words.Add((start, end));
            return;
        }

        char[]? collapsed = null;
        int[]? toOriginal = null;
        ReadOnlySpan<char> view = slice;
        if (slice.ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            (collapsed, toOriginal) = CollapseSupplementary(slice);
            view = collapsed;
        }

        var current = new List<(int Start, int End)> { (0, view.Length) };
        var next = new List<(int Start, int End)>();
        foreach (var regex in _stages)
        {
            next.Clear();
            foreach (var (segStart, segEnd) in current)
            {
                int pos = segStart;
                foreach (var m in regex.EnumerateMatches(view[segStart..segEnd]))
                {
                    if (m.Length == 0) continue;
                    int matchStart = segStart + m.Index;
                    if (matchStart > pos) next.Add((pos, matchStart));
                    next.Add((matchStart, matchStart + m.Length));
                    pos = matchStart + m.Length;
                }
                if (pos < segEnd) next.Add((pos, segEnd));
            }
            (current, next) = (next, current);
        }

        foreach (var (s, e) in current)
        {
            words.Add(toOriginal is null ? (start + s, start + e) : (start + toOriginal[s], start + toOriginal[e]));
        }
    }

    /// <summary>One char per code point; returns the view and, per view index (plus one past the end), the index in the slice.</summary>
    private static (char[] View, int[] ToOriginal) CollapseSupplementary(ReadOnlySpan<char> slice)
    {
        var view = new char[slice.Length];
        var toOriginal = new int[slice.Length + 1];
        int v = 0;
        for (int i = 0; i < slice.Length; v++)
        {
            toOriginal[v] = i;
            char c = slice[i];
            if (char.IsHighSurrogate(c) && i + 1 < slice.Length && char.IsLowSurrogate(slice[i + 1]))
            {
                int codePoint = char.ConvertToUtf32(c, slice[i + 1]);
                view[v] = StandIn(CharUnicodeInfo.GetUnicodeCategory(codePoint));
                i += 2;
            }
            else
            {
                view[v] = c;
                i++;
            }
        }
        toOriginal[v] = slice.Length;
        return (view[..v], toOriginal[..(v + 1)]);
    }

    /// <summary>A BMP character of the given category that no pre-tokenizer pattern names literally.</summary>
    internal static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u00C0',
        UnicodeCategory.LowercaseLetter => '\u00E0',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.SpaceSeparator => '\u3000',
        UnicodeCategory.LineSeparator => '\u2028',
        UnicodeCategory.ParagraphSeparator => '\u2029',
        UnicodeCategory.Control => '\u0080',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u00A6',
        _ => '\u0378', // unassigned (supplementary code points are never surrogates themselves)
    };
}
