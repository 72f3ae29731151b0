using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Splits text into words with a sequence of steps (regexes, or llama.cpp's hand-written splitters), each applied to
/// the pieces the previous one left; matches and the gaps between them both become words (Hugging Face's "Isolated"
/// behaviour, and what llama.cpp's unicode_regex_split does). Two dialects:
/// <list type="bullet">
/// <item>Hugging Face (tokenizer.json): the regex is a .NET regex over the text. .NET sees UTF-16, so each supplementary
/// code point is first replaced by one BMP stand-in of the same Unicode category.</item>
/// <item>llama.cpp (GGUF tokenizer.ggml.pre): <see cref="LlamaRegex"/> rewrites each regex to mean what llama.cpp makes of
/// it, running on the collapsed alphabet or on the code points; "\p{Han}+" and "\p{AFMoE_digits}" (and tiny_aya's digit
/// rule) are llama.cpp's custom splitters, as there.</item>
/// </list>
/// </summary>
internal sealed class PreTokenizer
{
    private enum StageKind { HuggingFaceRegex, CollapsedRegex, CodePointRegex, KimiK2, DigitGroups }

    private readonly record struct Stage(StageKind Kind, Regex? Regex);

    private static readonly ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);
    private readonly Stage[] _stages;

    /// <summary>Hugging Face regexes, used as .NET regexes.</summary>
    public PreTokenizer(IEnumerable<string> patterns) =>
        _stages = patterns.Select(p => new Stage(StageKind.HuggingFaceRegex, GetRegex(p))).ToArray();

    private PreTokenizer(Stage[] stages) => _stages = stages;

    /// <summary>llama.cpp's regex list for a pre-tokenizer type; throws <see cref="ArgumentException"/> for a regex llama.cpp could not run.</summary>
    public static PreTokenizer ForLlamaCpp(IEnumerable<string> patterns) => new(patterns.Select(p => p switch
    {
        @"\p{Han}+" => new Stage(StageKind.KimiK2, null),
        @"\p{AFMoE_digits}" or @"\d{1,3}(?=(?:\d{3})*\b)" => new Stage(StageKind.DigitGroups, null),
        _ => new Stage(LlamaRegex.UsesCategories(p) ? StageKind.CollapsedRegex : StageKind.CodePointRegex, GetRegex(LlamaRegex.Translate(p))),
    }).ToArray());

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

        // Work in code point coordinates: cps[i] is the i-th code point, toUtf16[i] its index in the slice.
        int[] cps = ArrayPool<int>.Shared.Rent(slice.Length);
        int[] toUtf16 = ArrayPool<int>.Shared.Rent(slice.Length + 1);
        char[]? view = null, utf16View = null;
        int[]? toCodePoint = null;
        try
        {
            int count = 0;
            for (int i = 0; i < slice.Length; count++)
            {
                toUtf16[count] = i;
                if (char.IsHighSurrogate(slice[i]) && i + 1 < slice.Length && char.IsLowSurrogate(slice[i + 1]))
                {
                    cps[count] = char.ConvertToUtf32(slice[i], slice[i + 1]);
                    i += 2;
                }
                else cps[count] = slice[i++];
            }
            toUtf16[count] = slice.Length;
            bool hasSupplementary = count != slice.Length;

            var current = new List<(int Start, int End)> { (0, count) };
            var next = new List<(int Start, int End)>();
            StageKind? viewKind = null;
            foreach (var stage in _stages)
            {
                next.Clear();
                switch (stage.Kind)
                {
                    case StageKind.KimiK2:
                        foreach (var (s, e) in current) LlamaCustomSplits.KimiK2(cps, s, e, next);
                        break;
                    case StageKind.DigitGroups:
                        foreach (var (s, e) in current) LlamaCustomSplits.DigitGroups(cps.AsSpan(0, count), s, e, next);
                        break;
                    case StageKind.CodePointRegex:
                        if (utf16View is null)
                        {
                            utf16View = ArrayPool<char>.Shared.Rent(slice.Length);
                            for (int i = 0; i < slice.Length; i++)
                            {
                                char c = slice[i];
                                utf16View[i] = c > 0x7F && UnicodeClass.IsWhitespace(c) ? '\v' : c;
                            }
                            if (hasSupplementary)
                            {
                                toCodePoint = ArrayPool<int>.Shared.Rent(slice.Length + 1);
                                for (int k = 0; k < count; k++)
                                {
                                    for (int u = toUtf16[k]; u < toUtf16[k + 1]; u++) toCodePoint[u] = k;
                                }
                                toCodePoint[slice.Length] = count;
                            }
                        }
                        foreach (var (s, e) in current)
                        {
                            int from = toUtf16[s], to = toUtf16[e];
                            AddMatches(stage.Regex!, utf16View.AsSpan(from, to - from), s, e, toCodePoint, from, next);
                        }
                        break;
                    default:
                        var kind = stage.Kind;
                        if (viewKind != kind)
                        {
                            view ??= ArrayPool<char>.Shared.Rent(count);
                            for (int i = 0; i < count; i++)
                            {
                                int cp = cps[i];
                                view[i] = kind == StageKind.CollapsedRegex ? UnicodeClass.Collapse(cp)
                                    : cp <= 0xFFFF ? (char)cp : StandIn(CharUnicodeInfo.GetUnicodeCategory(cp));
                            }
                            viewKind = kind;
                        }
                        foreach (var (s, e) in current) AddMatches(stage.Regex!, view.AsSpan(s, e - s), s, e, null, 0, next);
                        break;
                }
                (current, next) = (next, current);
            }

            foreach (var (s, e) in current)
            {
                if (e > s) words.Add((start + toUtf16[s], start + toUtf16[e]));
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(cps);
            ArrayPool<int>.Shared.Return(toUtf16);
            if (view is not null) ArrayPool<char>.Shared.Return(view);
            if (utf16View is not null) ArrayPool<char>.Shared.Return(utf16View);
            if (toCodePoint is not null) ArrayPool<int>.Shared.Return(toCodePoint);
        }
    }

    /// <summary>
    /// Matches and gaps of one piece [segStart, segEnd); an empty match only cuts (llama.cpp keeps no empty word).
    /// The piece is one char per code point unless toCodePoint maps its UTF-16 indices (from mapBase) to code points.
    /// </summary>
    private static void AddMatches(Regex regex, ReadOnlySpan<char> piece, int segStart, int segEnd, int[]? toCodePoint, int mapBase,
        List<(int Start, int End)> output)
    {
        int pos = segStart;
        foreach (var m in regex.EnumerateMatches(piece))
        {
            int matchStart = toCodePoint is null ? segStart + m.Index : toCodePoint[mapBase + m.Index];
            int matchEnd = toCodePoint is null ? segStart + m.Index + m.Length : toCodePoint[mapBase + m.Index + m.Length];
            if (matchStart > pos) output.Add((pos, matchStart));
            if (matchEnd > matchStart) output.Add((matchStart, matchEnd));
            pos = Math.Max(pos, matchEnd);
        }
        if (pos < segEnd) output.Add((pos, segEnd));
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
