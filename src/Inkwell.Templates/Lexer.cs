using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Inkwell.Templates;

internal enum TokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    EndOfInput,
}

/// <summary>One lexical token; <see cref="Offset"/> is its position in the (newline-normalized) source.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Offset, object? Literal = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;

    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;

    public override string ToString() => Kind switch
    {
        TokenKind.EndOfInput => "end of template",
        TokenKind.Text => "template text",
        TokenKind.String => "string literal",
        _ => $"'{Text}'",
    };
}

/// <summary>Whitespace handling the way Hugging Face renders chat templates (Jinja's trim_blocks and lstrip_blocks).</summary>
internal readonly record struct WhitespaceOptions(bool TrimBlocks, bool LstripBlocks, bool KeepTrailingNewline)
{
    public static WhitespaceOptions HuggingFace { get; } = new(TrimBlocks: true, LstripBlocks: true, KeepTrailingNewline: false);
}

/// <summary>
/// Splits a template into text and tag tokens, applying whitespace control ({%- -%}, {{- -}}, {%+ +%})
/// and trim_blocks / lstrip_blocks here so the parser never sees whitespace rules.
/// </summary>
internal sealed partial class Lexer
{
    private readonly string _source;
    private readonly WhitespaceOptions _options;
    private readonly LineMap _lines;
    private readonly List<Token> _tokens = [];
    private int _pos;

    private Lexer(string source, WhitespaceOptions options, LineMap lines)
    {
        _source = source;
        _options = options;
        _lines = lines;
    }

    /// <summary>Jinja normalizes newlines and (unless asked not to) drops a single trailing newline.</summary>
    public static string NormalizeSource(string source, WhitespaceOptions options)
    {
        var normalized = source.Replace("\r\n", "\n");
        if (!options.KeepTrailingNewline && normalized.EndsWith('\n')) normalized = normalized[..^1];
        return normalized;
    }

    public static List<Token> Tokenize(string normalizedSource, WhitespaceOptions options, LineMap lines)
    {
        var lexer = new Lexer(normalizedSource, options, lines);
        lexer.Run();
        return lexer._tokens;
    }

    [GeneratedRegex(@"\{%[-+]?\s*endraw\s*(?<strip>-?)%\}")]
    private static partial Regex EndRawPattern();

    private void Run()
    {
        // Jinja's "line_starting": lstrip_blocks also applies at the start of a text chunk when the previous
        // tag's closing consumed a newline (or at the start of the template).
        var lineStarting = true;
        while (_pos < _source.Length)
        {
            var tagStart = FindTagStart(_pos);
            if (tagStart < 0)
            {
                AddText(_source[_pos..], _pos);
                _pos = _source.Length;
                break;
            }

            var opener = _source[tagStart + 1];
            var control = tagStart + 2 < _source.Length ? _source[tagStart + 2] : '\0';
            var text = _source[_pos..tagStart];
            if (control == '-')
            {
                text = text.TrimEnd();
            }
            else if (control != '+' && _options.LstripBlocks && opener != '{')
            {
                var lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsAllWhitespace(text.AsSpan(lineStart)))
                {
                    text = text[..lineStart];
                }
            }
            AddText(text, _pos);

            var bodyStart = tagStart + 2 + (control is '-' or '+' ? 1 : 0);
            switch (opener)
            {
                case '#':
                    LexComment(tagStart, bodyStart);
                    break;
                case '%' when TryLexRaw(tagStart, bodyStart):
                    break;
                case '%':
                    LexTag(tagStart, bodyStart, isBlock: true);
                    break;
                default:
                    LexTag(tagStart, bodyStart, isBlock: false);
                    break;
            }
            lineStarting = _source[_pos - 1] == '\n';
        }
        _tokens.Add(new Token(TokenKind.EndOfInput, "", _source.Length));
    }

    private int FindTagStart(int from)
    {
        while (true)
        {
            var brace = _source.IndexOf('{', from);
            if (brace < 0 || brace + 1 >= _source.Length) return -1;
            if (_source[brace + 1] is '{' or '%' or '#') return brace;
            from = brace + 1;
        }
    }

    private static bool IsAllWhitespace(ReadOnlySpan<char> span)
    {
        foreach (var c in span)
        {
            if (!char.IsWhiteSpace(c)) return false;
        }
        return true;
    }

    private void AddText(string text, int offset)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, offset));
    }

    private void LexComment(int tagStart, int bodyStart)
    {
        var end = _source.IndexOf("#}", bodyStart, StringComparison.Ordinal);
        if (end < 0) throw _lines.Error("unclosed comment: '{#' without a matching '#}'", tagStart);
        var control = end > bodyStart ? _source[end - 1] : '\0';
        _pos = end + 2;
        ApplyClosingWhitespace(control, isBlockLike: true);
    }

    /// <summary>After a closing delimiter: '-' strips all following whitespace; trim_blocks eats one newline.</summary>
    private void ApplyClosingWhitespace(char control, bool isBlockLike)
    {
        if (control == '-')
        {
            while (_pos < _source.Length && char.IsWhiteSpace(_source[_pos])) _pos++;
        }
        else if (control != '+' && isBlockLike && _options.TrimBlocks && _pos < _source.Length && _source[_pos] == '\n')
        {
            _pos++;
        }
    }

    /// <summary>{% raw %}...{% endraw %}: everything inside is text.</summary>
    private bool TryLexRaw(int tagStart, int bodyStart)
    {
        var i = bodyStart;
        while (i < _source.Length && char.IsWhiteSpace(_source[i])) i++;
        if (string.CompareOrdinal(_source, i, "raw", 0, 3) != 0) return false;
        i += 3;
        while (i < _source.Length && char.IsWhiteSpace(_source[i])) i++;
        var control = '\0';
        if (i < _source.Length && _source[i] is '-' or '+') control = _source[i++];
        if (string.CompareOrdinal(_source, i, "%}", 0, 2) != 0) return false;
        _pos = i + 2;
        ApplyClosingWhitespace(control, isBlockLike: true);

        var end = EndRawPattern().Match(_source, _pos);
        if (!end.Success) throw _lines.Error("unclosed '{% raw %}': no matching '{% endraw %}'", tagStart);
        var content = _source[_pos..end.Index];
        if (_source[end.Index + 2] == '-') content = content.TrimEnd();
        AddText(content, _pos);
        _pos = end.Index + end.Length;
        ApplyClosingWhitespace(end.Groups["strip"].Value == "-" ? '-' : '\0', isBlockLike: true);
        return true;
    }

    private void LexTag(int tagStart, int bodyStart, bool isBlock)
    {
        _tokens.Add(new Token(isBlock ? TokenKind.BlockBegin : TokenKind.VariableBegin, isBlock ? "{%" : "{{", tagStart));
        var closer = isBlock ? '%' : '}';
        var depth = 0;
        var i = bodyStart;
        while (true)
        {
            while (i < _source.Length && char.IsWhiteSpace(_source[i])) i++;
            if (i >= _source.Length)
            {
                throw _lines.Error(isBlock ? "unclosed tag: '{%' without a matching '%}'" : "unclosed expression: '{{' without a matching '}}'", tagStart);
            }

            if (depth == 0)
            {
                var control = _source[i] is '-' or '+' ? _source[i] : '\0';
                var at = control == '\0' ? i : i + 1;
                if (at + 1 < _source.Length && _source[at] == closer && _source[at + 1] == '}')
                {
                    _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, isBlock ? "%}" : "}}", i));
                    _pos = at + 2;
                    ApplyClosingWhitespace(control, isBlockLike: isBlock);
                    return;
                }
            }

            var c = _source[i];
            if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < _source.Length && (char.IsLetterOrDigit(_source[i]) || _source[i] == '_')) i++;
                _tokens.Add(new Token(TokenKind.Name, _source[start..i], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                i = LexNumber(i);
            }
            else if (c is '\'' or '"')
            {
                i = LexString(i);
            }
            else
            {
                var op = MatchOperator(i);
                if (op is null) throw _lines.Error($"unexpected character '{c}' in {(isBlock ? "tag" : "expression")}", i);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}" && depth > 0) depth--;
                _tokens.Add(new Token(TokenKind.Operator, op, i));
                i += op.Length;
            }
        }
    }

    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", "<=", ">=",
        "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
    ];

    private string? MatchOperator(int i)
    {
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_source, i, op, 0, op.Length) == 0) return op;
        }
        return null;
    }

    private int LexNumber(int start)
    {
        var i = start;
        var isFloat = false;
        while (i < _source.Length && (char.IsAsciiDigit(_source[i]) || _source[i] == '_')) i++;
        if (i + 1 < _source.Length && _source[i] == '.' && char.IsAsciiDigit(_source[i + 1]))
        {
            isFloat = true;
            i++;
            while (i < _source.Length && (char.IsAsciiDigit(_source[i]) || _source[i] == '_')) i++;
        }
        if (i < _source.Length && _source[i] is 'e' or 'E')
        {
            var j = i + 1;
            if (j < _source.Length && _source[j] is '+' or '-') j++;
            if (j < _source.Length && char.IsAsciiDigit(_source[j]))
            {
                isFloat = true;
                i = j;
                while (i < _source.Length && char.IsAsciiDigit(_source[i])) i++;
            }
        }
        var text = _source[start..i].Replace("_", "");
        if (isFloat)
        {
            _tokens.Add(new Token(TokenKind.Float, text, start, double.Parse(text, CultureInfo.InvariantCulture)));
        }
        else
        {
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                throw _lines.Error($"integer literal '{text}' is too large", start);
            }
            _tokens.Add(new Token(TokenKind.Integer, text, start, value));
        }
        return i;
    }

    private int LexString(int start)
    {
        var quote = _source[start];
        var builder = new StringBuilder();
        var i = start + 1;
        while (true)
        {
            if (i >= _source.Length) throw _lines.Error("unterminated string literal", start);
            var c = _source[i];
            if (c == quote)
            {
                i++;
                break;
            }
            if (c != '\\')
            {
                builder.Append(c);
                i++;
                continue;
            }
            if (i + 1 >= _source.Length) throw _lines.Error("unterminated string literal", start);
            var escape = _source[i + 1];
            i += 2;
            switch (escape)
            {
                case 'n': builder.Append('\n'); break;
                case 't': builder.Append('\t'); break;
                case 'r': builder.Append('\r'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'v': builder.Append('\v'); break;
                case 'a': builder.Append('\a'); break;
                case '0': builder.Append('\0'); break;
                case '\\': builder.Append('\\'); break;
                case '\'': builder.Append('\''); break;
                case '"': builder.Append('"'); break;
                case '\n': break; // a backslash at the end of a line continues the string
                case 'x': i = AppendCodePoint(builder, i, 2, start); break;
                case 'u': i = AppendCodePoint(builder, i, 4, start); break;
                case 'U': i = AppendCodePoint(builder, i, 8, start); break;
                default:
                    // Python keeps unknown escapes as written.
                    builder.Append('\\').Append(escape);
                    break;
            }
        }
        _tokens.Add(new Token(TokenKind.String, _source[start..i], start, builder.ToString()));
        return i;
    }

    private int AppendCodePoint(StringBuilder builder, int i, int digits, int stringStart)
    {
        if (i + digits > _source.Length
            || !int.TryParse(_source.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code)
            || code > 0x10FFFF || code is >= 0xD800 and <= 0xDFFF && digits == 8)
        {
            throw _lines.Error($"bad \\{(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U')} escape in string literal", i - 2);
        }
        if (code is >= 0xD800 and <= 0xDFFF) builder.Append((char)code);
        else builder.Append(char.ConvertFromUtf32(code));
        return i + digits;
    }
}
