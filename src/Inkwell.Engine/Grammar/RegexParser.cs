using System.Globalization;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// Parses the regex subset that constrained generation needs: literals; escapes \d \w \s \D \W \S \n \t \r \f \v \0
/// \xHH \uXXXX \u{X..} and escaped punctuation; classes [a-z] [^...] with escapes; '.' (any code point but \n);
/// alternation; groups ( ) (?: ) (?&lt;name&gt; ); quantifiers * + ? {m} {m,} {m,n} (lazy forms are taken as greedy);
/// and (?!) as "matches nothing". The whole output must match: ^ and $ are accepted at the ends only.
/// \d \w \s are ASCII, as in ECMAScript and JSON Schema. Characters are code points (not UTF-16 units).
/// </summary>
internal sealed class RegexParser
{
    private readonly string _p;
    private readonly int _end;
    private readonly int _maxRepeat;
    private int _i;
    private int _depth;

    private RegexParser(string pattern, int start, int end, int maxRepeat)
    {
        _p = pattern;
        _i = start;
        _end = end;
        _maxRepeat = maxRepeat;
    }

    public static RegexNode Parse(string pattern, GrammarLimits limits)
    {
        int start = pattern.StartsWith('^') ? 1 : 0;
        int end = pattern.Length;
        if (end > start && pattern[end - 1] == '$' && !IsEscaped(pattern, end - 1)) end--;
        var parser = new RegexParser(pattern, start, end, limits.MaxRepeat);
        var node = parser.ParseAlternation();
        if (parser._i < end) throw parser.Error("unbalanced ')'");
        return node;
    }

    /// <summary>
    /// ECMAScript search semantics, as JSON Schema's "pattern": each top-level branch may start with ^ and end with $,
    /// and a side without its anchor matches any characters there. Anchors anywhere else are rejected.
    /// </summary>
    public static RegexNode ParseSearch(string pattern, GrammarLimits limits)
    {
        var parser = new RegexParser(pattern, 0, pattern.Length, limits.MaxRepeat);
        var anything = new RepeatNode(new SetNode(CodePointSet.Any), 0, -1);
        var branches = new List<RegexNode>();
        while (true)
        {
            bool anchoredStart = !parser.AtEnd && parser.Peek == '^';
            if (anchoredStart) parser._i++;
            var body = parser.ParseConcat(stopAtFinalDollar: true);
            bool anchoredEnd = !parser.AtEnd && parser.Peek == '$';
            if (anchoredEnd) parser._i++;
            branches.Add(new ConcatNode([.. anchoredStart ? [] : new[] { anything }, body, .. anchoredEnd ? [] : new[] { anything }]));
            if (parser.AtEnd) break;
            if (parser.Peek == ')') throw parser.Error("unbalanced ')'");
            parser._i++; // '|'
        }
        return branches.Count == 1 ? branches[0] : new AltNode([.. branches]);
    }

    private static bool IsEscaped(string p, int index)
    {
        int slashes = 0;
        for (int k = index - 1; k >= 0 && p[k] == '\\'; k--) slashes++;
        return slashes % 2 == 1;
    }

    private GrammarException Error(string why) =>
        GrammarException.Invalid($"regex {Quote(_p)} at offset {Math.Min(_i, _p.Length)}: {why}");

    private static string Quote(string s) => s.Length <= 200 ? $"'{s}'" : $"'{s[..200]}...'";

    private bool AtEnd => _i >= _end;

    private char Peek => _p[_i];

    private RegexNode ParseAlternation()
    {
        // Deep nesting is the one way to blow the stack; far beyond any real grammar.
        if (++_depth > 500) throw Error("groups are nested too deeply");
        var items = new List<RegexNode> { ParseConcat() };
        while (!AtEnd && Peek == '|')
        {
            _i++;
            items.Add(ParseConcat());
        }
        _depth--;
        return items.Count == 1 ? items[0] : new AltNode([.. items]);
    }

    private RegexNode ParseConcat(bool stopAtFinalDollar = false)
    {
        var items = new List<RegexNode>();
        while (!AtEnd && Peek != '|' && Peek != ')')
        {
            if (stopAtFinalDollar && Peek == '$' && (_i + 1 == _end || _p[_i + 1] == '|')) break;
            var atom = ParseAtom();
            items.Add(ParseQuantifier(atom));
        }
        return items.Count == 1 ? items[0] : new ConcatNode([.. items]);
    }

    private RegexNode ParseQuantifier(RegexNode atom)
    {
        if (AtEnd) return atom;
        int min, max;
        int at = _i;
        switch (Peek)
        {
            case '*': min = 0; max = -1; _i++; break;
            case '+': min = 1; max = -1; _i++; break;
            case '?': min = 0; max = 1; _i++; break;
            case '{' when TryParseBraces(out min, out max): break;
            default: return atom;
        }
        if (max != -1 && min > max) { _i = at; throw Error($"quantifier {{{min},{max}}} has min > max"); }
        if (min > _maxRepeat || max > _maxRepeat)
            throw GrammarException.TooLarge($"a quantifier repeats more than {_maxRepeat} times");
        if (!AtEnd && Peek == '?') _i++; // lazy: same language, so same automaton
        if (!AtEnd && (Peek is '*' or '+' or '?' || (Peek == '{' && LooksLikeBraces())))
            throw Error("nested quantifier");
        return new RepeatNode(atom, min, max);
    }

    private bool LooksLikeBraces()
    {
        int save = _i;
        bool ok = TryParseBraces(out _, out _);
        _i = save;
        return ok;
    }

    /// <summary>{m} {m,} {m,n}; anything else is a literal '{', as in .NET and ECMAScript.</summary>
    private bool TryParseBraces(out int min, out int max)
    {
        min = max = 0;
        int j = _i + 1;
        int m = ReadInt(ref j);
        if (m < 0) return false;
        if (j < _end && _p[j] == '}') { min = max = m; _i = j + 1; return true; }
        if (j >= _end || _p[j] != ',') return false;
        j++;
        if (j < _end && _p[j] == '}') { min = m; max = -1; _i = j + 1; return true; }
        int n = ReadInt(ref j);
        if (n < 0 || j >= _end || _p[j] != '}') return false;
        min = m; max = n; _i = j + 1;
        return true;
    }

    private int ReadInt(ref int j)
    {
        int start = j;
        long value = 0;
        while (j < _end && char.IsAsciiDigit(_p[j]))
        {
            value = Math.Min(value * 10 + (_p[j] - '0'), int.MaxValue);
            j++;
        }
        return j == start ? -1 : (int)value;
    }

    private RegexNode ParseAtom()
    {
        char c = Peek;
        switch (c)
        {
            case '(':
                return ParseGroup();
            case '[':
                return new SetNode(ParseClass());
            case '.':
                _i++;
                return new SetNode(CodePointSet.Single('\n').Negate());
            case '\\':
                _i++;
                return new SetNode(ParseEscape(inClass: false, out _));
            case '^' or '$':
                throw Error("anchors are only supported at the start and end of the pattern (or of its top-level branches)");
            case '*' or '+' or '?':
                throw Error($"quantifier '{c}' follows nothing");
            case '{' when LooksLikeBraces():
                throw Error("quantifier '{' follows nothing");
            default:
                return new SetNode(CodePointSet.Single(ReadLiteral()));
        }
    }

    private int ReadLiteral()
    {
        char c = _p[_i++];
        if (char.IsHighSurrogate(c) && _i < _end && char.IsLowSurrogate(_p[_i])) return char.ConvertToUtf32(c, _p[_i++]);
        if (char.IsSurrogate(c)) { _i--; throw Error("unpaired surrogate in the pattern"); }
        return c;
    }

    private RegexNode ParseGroup()
    {
        _i++; // '('
        bool nothing = false;
        if (!AtEnd && Peek == '?')
        {
            _i++;
            if (AtEnd) throw Error("unterminated group");
            switch (Peek)
            {
                case ':':
                    _i++;
                    break;
                case '!' when _i + 1 < _end && _p[_i + 1] == ')':
                    // (?!) is the usual spelling of "fails everywhere"; the JSON schema translation uses it too.
                    _i++;
                    nothing = true;
                    break;
                case '=' or '!':
                    throw Error("lookahead is not supported");
                case '<' when _i + 1 < _end && _p[_i + 1] is '=' or '!':
                    throw Error("lookbehind is not supported");
                case '<' or '\'':
                case 'P' when _i + 1 < _end && _p[_i + 1] == '<':
                {
                    char close = Peek == '\'' ? '\'' : '>';
                    int nameEnd = _p.IndexOf(close, _i + 2);
                    if (nameEnd < 0 || nameEnd >= _end) throw Error("unterminated group name");
                    _i = nameEnd + 1;
                    break;
                }
                default:
                    throw Error($"group kind '(?{Peek}' (flags, atomic or conditional groups) is not supported");
            }
        }
        var inner = ParseAlternation();
        if (AtEnd || Peek != ')') throw Error("missing ')'");
        _i++;
        return nothing ? RegexNode.Nothing : inner;
    }

    private CodePointSet ParseClass()
    {
        int open = _i;
        _i++; // '['
        bool negate = false;
        if (!AtEnd && Peek == '^') { negate = true; _i++; }
        var ranges = new List<(int, int)>();
        bool first = true;
        while (true)
        {
            if (AtEnd) { _i = open; throw Error("missing ']'"); }
            char c = Peek;
            if (c == ']' && !first) { _i++; break; }
            first = false;
            var lo = ReadClassAtom(out var set);
            if (set is not null) { ranges.AddRange(set.Ranges); continue; }
            if (_i + 1 < _end && Peek == '-' && _p[_i + 1] != ']')
            {
                _i++;
                var hi = ReadClassAtom(out var hiSet);
                if (hiSet is not null) throw Error("a class shorthand cannot end a range");
                if (hi < lo) throw Error("range out of order in character class");
                ranges.Add((lo, hi));
            }
            else
            {
                ranges.Add((lo, lo));
            }
        }
        var result = CodePointSet.FromRanges(ranges);
        return negate ? result.Negate() : result;
    }

    /// <summary>Reads one class member: a code point, or (set non-null) a shorthand such as \d.</summary>
    private int ReadClassAtom(out CodePointSet? set)
    {
        set = null;
        if (Peek != '\\') return ReadLiteral();
        _i++;
        var s = ParseEscape(inClass: true, out int single);
        if (single >= 0) return single;
        set = s;
        return -1;
    }

    /// <summary>After a backslash. Returns the set; single is the code point when the escape is one character, else -1.</summary>
    private CodePointSet ParseEscape(bool inClass, out int single)
    {
        single = -1;
        if (AtEnd) throw Error("pattern ends with a backslash");
        char c = _p[_i++];
        int cp;
        switch (c)
        {
            case 'd': return CodePointSet.Digit;
            case 'D': return CodePointSet.Digit.Negate();
            case 'w': return CodePointSet.Word;
            case 'W': return CodePointSet.Word.Negate();
            case 's': return CodePointSet.Space;
            case 'S': return CodePointSet.Space.Negate();
            case 'n': cp = '\n'; break;
            case 't': cp = '\t'; break;
            case 'r': cp = '\r'; break;
            case 'f': cp = '\f'; break;
            case 'v': cp = '\v'; break;
            case 'a': cp = '\a'; break;
            case 'e': cp = 0x1B; break;
            case 'b' when inClass: cp = '\b'; break;
            case '0' when AtEnd || !char.IsAsciiDigit(Peek): cp = 0; break;
            case 'x': cp = ReadHex(2, 2); break;
            case 'u':
                if (!AtEnd && Peek == '{')
                {
                    _i++;
                    cp = ReadHex(1, 6);
                    if (AtEnd || Peek != '}') throw Error("missing '}' in \\u{...}");
                    _i++;
                    if (cp > CodePointSet.MaxCodePoint) throw Error("code point out of range");
                }
                else
                {
                    cp = ReadHex(4, 4);
                    // A surrogate pair spelled as two \u escapes is one code point.
                    if (char.IsHighSurrogate((char)cp) && _i + 5 < _end && _p[_i] == '\\' && _p[_i + 1] == 'u')
                    {
                        int save = _i;
                        _i += 2;
                        int low = ReadHex(4, 4);
                        if (char.IsLowSurrogate((char)low)) cp = char.ConvertToUtf32((char)cp, (char)low);
                        else _i = save;
                    }
                }
                if (cp is >= 0xD800 and <= 0xDFFF) throw Error("unpaired surrogate escape");
                break;
            case 'b' or 'B' or 'A' or 'z' or 'Z' or 'G':
                throw Error($"anchor or word boundary '\\{c}' is not supported");
            case 'p' or 'P':
                throw Error("Unicode category escapes (\\p{...}) are not supported; use explicit ranges");
            case 'k':
            case >= '1' and <= '9':
                throw Error("backreferences are not supported");
            default:
                if (char.IsAsciiLetterOrDigit(c)) throw Error($"unknown escape '\\{c}'");
                _i--;
                cp = ReadLiteral();
                break;
        }
        single = cp;
        return CodePointSet.Single(cp);
    }

    private int ReadHex(int minDigits, int maxDigits)
    {
        int start = _i;
        int value = 0;
        while (_i < _end && _i - start < maxDigits && char.IsAsciiHexDigit(_p[_i]))
        {
            value = value * 16 + int.Parse(_p.AsSpan(_i, 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            _i++;
        }
        if (_i - start < minDigits) throw Error("malformed hexadecimal escape");
        return value;
    }
}
