namespace Inkwell.Templates;

/// <summary>
/// Recursive-descent parser over the lexer's tokens, following Jinja's grammar and precedence:
/// conditional &lt; or &lt; and &lt; not &lt; comparisons &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary &lt;
/// postfix (. [] ()) and filters / tests. This file: parser state, token helpers and statements; expressions are
/// in Parser.Expressions.cs.
/// </summary>
internal sealed partial class Parser
{
    private readonly List<Token> _tokens;
    private readonly LineMap _lines;
    private readonly int _maxNesting;
    private int _index;
    private int _nesting;

    private Parser(List<Token> tokens, LineMap lines, int maxNesting)
    {
        _tokens = tokens;
        _lines = lines;
        _maxNesting = maxNesting;
    }

    public static IReadOnlyList<Stmt> Parse(List<Token> tokens, LineMap lines, int maxNesting)
    {
        var parser = new Parser(tokens, lines, maxNesting);
        var body = parser.ParseBody([], out _);
        return body;
    }

    private Token Current => _tokens[_index];

    private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    private Token Advance() => _tokens[_index++];

    private TemplateException Error(string problem, Token at) => _lines.Error(problem, at.Offset);

    private Token Expect(TokenKind kind, string? text, string what)
    {
        var token = Current;
        if (token.Kind != kind || (text is not null && token.Text != text))
        {
            throw Error($"expected {what}, found {token}", token);
        }
        _index++;
        return token;
    }

    private void ExpectOperator(string op) => Expect(TokenKind.Operator, op, $"'{op}'");

    private string ExpectName(string what) => Expect(TokenKind.Name, null, what).Text;

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        _index++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _index++;
        return true;
    }

    private void EnterNesting(Token at)
    {
        if (++_nesting > _maxNesting) throw Error($"template nests deeper than {_maxNesting} levels", at);
    }

    private void ExitNesting() => _nesting--;

    // ---- statements ----

    /// <summary>Parses statements until a {% tag %} whose name is in <paramref name="endTags"/> (left unconsumed after the '{%').</summary>
    private List<Stmt> ParseBody(string[] endTags, out string? endTag)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfInput:
                    if (endTags.Length > 0)
                    {
                        throw Error($"unexpected end of template: missing {{% {string.Join(" / ", endTags)} %}}", token);
                    }
                    endTag = null;
                    return body;
                case TokenKind.Text:
                    _index++;
                    body.Add(new TextStmt(token.Offset, token.Text));
                    break;
                case TokenKind.VariableBegin:
                    _index++;
                    var value = ParseExpression();
                    Expect(TokenKind.VariableEnd, null, "'}}'");
                    body.Add(new OutputStmt(token.Offset, value));
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind == TokenKind.Name && Array.IndexOf(endTags, name.Text) >= 0)
                    {
                        _index += 2;
                        endTag = name.Text;
                        return body;
                    }
                    _index++;
                    body.Add(ParseStatement(token));
                    break;
                default:
                    throw Error($"unexpected {token}", token);
            }
        }
    }

    private Stmt ParseStatement(Token blockBegin)
    {
        var keyword = Current;
        if (keyword.Kind != TokenKind.Name) throw Error($"expected a tag name after '{{%', found {keyword}", keyword);
        _index++;
        EnterNesting(keyword);
        try
        {
            return keyword.Text switch
            {
                "if" => ParseIf(blockBegin.Offset),
                "for" => ParseFor(blockBegin.Offset),
                "set" => ParseSet(blockBegin.Offset),
                "macro" => ParseMacro(blockBegin.Offset),
                "call" => ParseCallBlock(blockBegin.Offset),
                "filter" => ParseFilterBlock(blockBegin.Offset),
                "with" => ParseWith(blockBegin.Offset),
                "do" => ParseDo(blockBegin.Offset),
                "break" => EndSimple(new BreakStmt(blockBegin.Offset)),
                "continue" => EndSimple(new ContinueStmt(blockBegin.Offset)),
                "generation" => ParseGeneration(blockBegin.Offset),
                "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endcall" or "endfilter" or "endwith" or "endgeneration"
                    => throw Error($"unexpected '{{% {keyword.Text} %}}' without a matching opening tag", keyword),
                "include" or "import" or "from" or "extends" or "block"
                    => throw Error($"'{{% {keyword.Text} %}}' is not supported in chat templates", keyword),
                _ => throw Error($"unknown tag '{keyword.Text}'", keyword),
            };
        }
        finally
        {
            ExitNesting();
        }
    }

    private Stmt EndSimple(Stmt statement)
    {
        Expect(TokenKind.BlockEnd, null, "'%}'");
        return statement;
    }

    private void ExpectBlockEnd() => Expect(TokenKind.BlockEnd, null, "'%}'");

    private Stmt ParseIf(int offset)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        List<Stmt>? elseBody = null;
        var condition = ParseExpression();
        ExpectBlockEnd();
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"], out var endTag);
            branches.Add((condition, body));
            if (endTag == "elif")
            {
                condition = ParseExpression();
                ExpectBlockEnd();
                continue;
            }
            if (endTag == "else")
            {
                ExpectBlockEnd();
                elseBody = ParseBody(["endif"], out _);
            }
            ExpectBlockEnd();
            return new IfStmt(offset, branches, elseBody);
        }
    }

    private Stmt ParseFor(int offset)
    {
        var targets = ParseTargetNames();
        if (!SkipName("in")) throw Error($"expected 'in' in for loop, found {Current}", Current);
        var iterable = ParseOr(); // a conditional here would swallow the loop filter's 'if'
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        var recursive = SkipName("recursive");
        ExpectBlockEnd();
        var body = ParseBody(["else", "endfor"], out var endTag);
        List<Stmt>? elseBody = null;
        if (endTag == "else")
        {
            ExpectBlockEnd();
            elseBody = ParseBody(["endfor"], out _);
        }
        ExpectBlockEnd();
        return new ForStmt(offset, targets, iterable, filter, body, elseBody, recursive);
    }

    private List<string> ParseTargetNames()
    {
        var parenthesized = SkipOperator("(");
        var names = new List<string> { ExpectName("a variable name") };
        while (SkipOperator(","))
        {
            if (Current.Kind != TokenKind.Name) break;
            names.Add(ExpectName("a variable name"));
        }
        if (parenthesized) ExpectOperator(")");
        return names;
    }

    private AssignTarget ParseAssignTarget()
    {
        var first = Current;
        var names = ParseTargetNames();
        if (names.Count == 1 && SkipOperator("."))
        {
            return new AssignTarget(names, ExpectName("an attribute name"));
        }
        foreach (var name in names)
        {
            if (name is "true" or "false" or "none" or "True" or "False" or "None")
            {
                throw Error($"cannot assign to '{name}'", first);
            }
        }
        return new AssignTarget(names, null);
    }

    private Stmt ParseSet(int offset)
    {
        var target = ParseAssignTarget();
        if (SkipOperator("="))
        {
            var value = ParseTupleOrExpression();
            ExpectBlockEnd();
            return new SetStmt(offset, target, value);
        }
        var filters = new List<FilterExpr>();
        while (SkipOperator("|")) filters.Add(ParseFilterCall(null));
        ExpectBlockEnd();
        var body = ParseBody(["endset"], out _);
        ExpectBlockEnd();
        return new SetBlockStmt(offset, target, filters, body);
    }

    private List<MacroParameter> ParseParameters()
    {
        var parameters = new List<MacroParameter>();
        ExpectOperator("(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) ExpectOperator(",");
            if (SkipOperator(")")) break;
            var name = ExpectName("a parameter name");
            var defaultValue = SkipOperator("=") ? ParseExpression() : null;
            if (defaultValue is null && parameters.Count > 0 && parameters[^1].Default is not null)
            {
                throw Error($"parameter '{name}' without a default follows one with a default", Current);
            }
            parameters.Add(new MacroParameter(name, defaultValue));
        }
        return parameters;
    }

    private Stmt ParseMacro(int offset)
    {
        var name = ExpectName("a macro name");
        var parameters = ParseParameters();
        ExpectBlockEnd();
        var body = ParseBody(["endmacro"], out _);
        if (Current.Kind == TokenKind.Name && Current.Text == name) _index++; // {% endmacro name %}
        ExpectBlockEnd();
        return new MacroStmt(offset, name, parameters, body);
    }

    private Stmt ParseCallBlock(int offset)
    {
        var callerParameters = Current.IsOperator("(") ? ParseParameters() : [];
        var start = Current;
        if (ParseExpression() is not CallExpr call) throw Error("expected a macro call after '{% call'", start);
        ExpectBlockEnd();
        var body = ParseBody(["endcall"], out _);
        ExpectBlockEnd();
        return new CallBlockStmt(offset, call, callerParameters, body);
    }

    private Stmt ParseFilterBlock(int offset)
    {
        var filters = new List<FilterExpr> { ParseFilterCall(null) };
        while (SkipOperator("|")) filters.Add(ParseFilterCall(null));
        ExpectBlockEnd();
        var body = ParseBody(["endfilter"], out _);
        ExpectBlockEnd();
        return new FilterBlockStmt(offset, filters, body);
    }

    private Stmt ParseWith(int offset)
    {
        var assignments = new List<(string, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOperator(",");
            var name = ExpectName("a variable name");
            ExpectOperator("=");
            assignments.Add((name, ParseExpression()));
        }
        ExpectBlockEnd();
        var body = ParseBody(["endwith"], out _);
        ExpectBlockEnd();
        return new WithStmt(offset, assignments, body);
    }

    private Stmt ParseDo(int offset)
    {
        var value = ParseTupleOrExpression();
        ExpectBlockEnd();
        return new DoStmt(offset, value);
    }

    private Stmt ParseGeneration(int offset)
    {
        ExpectBlockEnd();
        var body = ParseBody(["endgeneration"], out _);
        ExpectBlockEnd();
        return new GenerationStmt(offset, body);
    }
}
