namespace Inkwell.Templates;

/// <summary>The expression half of <see cref="Parser"/>, one method per precedence level, loosest first.</summary>
internal sealed partial class Parser
{
    /// <summary>An expression, or an unparenthesized tuple such as <c>a, b</c> (used by set and do).</summary>
    private Expr ParseTupleOrExpression()
    {
        var start = Current;
        var first = ParseExpression();
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expr> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind == TokenKind.BlockEnd) break;
            items.Add(ParseExpression());
        }
        return new ListExpr(start.Offset, items, IsTuple: true);
    }

    public Expr ParseExpression()
    {
        var start = Current;
        EnterNesting(start);
        try
        {
            var value = ParseOr();
            while (SkipName("if"))
            {
                var condition = ParseOr();
                Expr? otherwise = SkipName("else") ? ParseExpression() : null;
                value = new ConditionalExpr(start.Offset, condition, value, otherwise);
            }
            return value;
        }
        finally
        {
            ExitNesting();
        }
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, BinaryOperator.Or, left, ParseAnd());
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, BinaryOperator.And, left, ParseNot());
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var op = Advance();
            EnterNesting(op);
            try
            {
                return new UnaryExpr(op.Offset, UnaryOperator.Not, ParseNot());
            }
            finally
            {
                ExitNesting();
            }
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var left = ParseAdditive();
        while (true)
        {
            var token = Current;
            BinaryOperator? op = token.Kind switch
            {
                TokenKind.Operator => token.Text switch
                {
                    "==" => BinaryOperator.Equal,
                    "!=" => BinaryOperator.NotEqual,
                    "<" => BinaryOperator.Less,
                    "<=" => BinaryOperator.LessOrEqual,
                    ">" => BinaryOperator.Greater,
                    ">=" => BinaryOperator.GreaterOrEqual,
                    _ => null,
                },
                TokenKind.Name when token.Text == "in" => BinaryOperator.In,
                TokenKind.Name when token.Text == "not" && Peek().IsName("in") => BinaryOperator.NotIn,
                _ => null,
            };
            if (op is null) return left;
            _index += op == BinaryOperator.NotIn ? 2 : 1;
            left = new BinaryExpr(token.Offset, op.Value, left, ParseAdditive());
        }
    }

    private Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Text is "+" or "-")
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, op.Text == "+" ? BinaryOperator.Add : BinaryOperator.Subtract, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (Current.IsOperator("~"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, BinaryOperator.Concat, left, ParseMultiplicative());
        }
        return left;
    }

    private Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Advance();
            var kind = op.Text switch
            {
                "*" => BinaryOperator.Multiply,
                "/" => BinaryOperator.Divide,
                "//" => BinaryOperator.FloorDivide,
                _ => BinaryOperator.Modulo,
            };
            left = new BinaryExpr(op.Offset, kind, left, ParsePower());
        }
        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseUnary(withFilters: true);
        while (Current.IsOperator("**"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Offset, BinaryOperator.Power, left, ParseUnary(withFilters: true));
        }
        return left;
    }

    private Expr ParseUnary(bool withFilters)
    {
        var token = Current;
        Expr node;
        if (token.Kind == TokenKind.Operator && token.Text is "-" or "+")
        {
            _index++;
            EnterNesting(token);
            try
            {
                node = new UnaryExpr(token.Offset, token.Text == "-" ? UnaryOperator.Negate : UnaryOperator.Plus, ParseUnary(withFilters: false));
            }
            finally
            {
                ExitNesting();
            }
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        return withFilters ? ParseFiltersAndTests(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                _index++;
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(token.Offset, true),
                    "false" or "False" => new LiteralExpr(token.Offset, false),
                    "none" or "None" => new LiteralExpr(token.Offset, null),
                    _ => new NameExpr(token.Offset, token.Text),
                };
            case TokenKind.String:
                _index++;
                var text = (string)token.Literal!;
                while (Current.Kind == TokenKind.String) text += (string)Advance().Literal!; // 'a' 'b' concatenates
                return new LiteralExpr(token.Offset, text);
            case TokenKind.Integer:
            case TokenKind.Float:
                _index++;
                return new LiteralExpr(token.Offset, token.Literal);
            case TokenKind.Operator when token.Text == "(":
                return ParseParenthesized();
            case TokenKind.Operator when token.Text == "[":
                return ParseList();
            case TokenKind.Operator when token.Text == "{":
                return ParseDict();
            default:
                throw Error($"expected an expression, found {token}", token);
        }
    }

    private Expr ParseParenthesized()
    {
        var open = Advance();
        EnterNesting(open);
        try
        {
            if (SkipOperator(")")) return new ListExpr(open.Offset, [], IsTuple: true);
            var first = ParseExpression();
            if (SkipOperator(")")) return first;
            var items = new List<Expr> { first };
            while (SkipOperator(","))
            {
                if (Current.IsOperator(")")) break;
                items.Add(ParseExpression());
            }
            ExpectOperator(")");
            return new ListExpr(open.Offset, items, IsTuple: true);
        }
        finally
        {
            ExitNesting();
        }
    }

    private Expr ParseList()
    {
        var open = Advance();
        EnterNesting(open);
        try
        {
            var items = new List<Expr>();
            while (!SkipOperator("]"))
            {
                if (items.Count > 0)
                {
                    ExpectOperator(",");
                    if (SkipOperator("]")) break;
                }
                items.Add(ParseExpression());
            }
            return new ListExpr(open.Offset, items, IsTuple: false);
        }
        finally
        {
            ExitNesting();
        }
    }

    private Expr ParseDict()
    {
        var open = Advance();
        EnterNesting(open);
        try
        {
            var entries = new List<(Expr, Expr)>();
            while (!SkipOperator("}"))
            {
                if (entries.Count > 0)
                {
                    ExpectOperator(",");
                    if (SkipOperator("}")) break;
                }
                var key = ParseExpression();
                ExpectOperator(":");
                entries.Add((key, ParseExpression()));
            }
            return new DictExpr(open.Offset, entries);
        }
        finally
        {
            ExitNesting();
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                _index++;
                var attribute = Current;
                if (attribute.Kind == TokenKind.Name)
                {
                    _index++;
                    node = new AttributeExpr(token.Offset, node, attribute.Text);
                }
                else if (attribute.Kind == TokenKind.Integer)
                {
                    _index++;
                    node = new IndexExpr(token.Offset, node, new LiteralExpr(attribute.Offset, attribute.Literal));
                }
                else
                {
                    throw Error($"expected an attribute name after '.', found {attribute}", attribute);
                }
            }
            else if (token.IsOperator("["))
            {
                node = ParseSubscript(node);
            }
            else if (token.IsOperator("("))
            {
                node = new CallExpr(node.Offset, node, ParseCallArguments()); // errors point at what is called
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        var open = Advance();
        EnterNesting(open);
        try
        {
            Expr? start = null, stop = null, step = null;
            var isSlice = false;
            if (!Current.IsOperator(":")) start = ParseExpression();
            if (SkipOperator(":"))
            {
                isSlice = true;
                if (!Current.IsOperator(":") && !Current.IsOperator("]")) stop = ParseExpression();
                if (SkipOperator(":") && !Current.IsOperator("]")) step = ParseExpression();
            }
            ExpectOperator("]");
            return isSlice ? new SliceExpr(open.Offset, target, start, stop, step) : new IndexExpr(open.Offset, target, start!);
        }
        finally
        {
            ExitNesting();
        }
    }

    private Arguments ParseCallArguments()
    {
        var open = Current;
        ExpectOperator("(");
        EnterNesting(open);
        try
        {
            var positional = new List<Expr>();
            var named = new List<(string, Expr)>();
            while (!SkipOperator(")"))
            {
                if (positional.Count + named.Count > 0)
                {
                    ExpectOperator(",");
                    if (SkipOperator(")")) break;
                }
                if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
                {
                    var name = Advance().Text;
                    _index++;
                    named.Add((name, ParseExpression()));
                }
                else
                {
                    if (named.Count > 0) throw Error("positional argument follows keyword argument", Current);
                    positional.Add(ParseExpression());
                }
            }
            return new Arguments(positional, named);
        }
        finally
        {
            ExitNesting();
        }
    }

    private Expr ParseFiltersAndTests(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("|"))
            {
                _index++;
                node = ParseFilterCall(node);
            }
            else if (token.IsName("is"))
            {
                _index++;
                var negated = SkipName("not");
                var nameToken = Current;
                var name = ExpectName("a test name after 'is'");
                while (SkipOperator(".")) name += "." + ExpectName("a test name");
                Arguments arguments;
                if (Current.IsOperator("("))
                {
                    arguments = ParseCallArguments();
                }
                else if (StartsTestArgument(Current))
                {
                    // Jinja allows one bare argument: `x is divisibleby 3`, `x is equalto 'y'`.
                    arguments = new Arguments([ParsePostfix(ParsePrimary())], []);
                }
                else
                {
                    arguments = Arguments.None;
                }
                node = new TestExpr(nameToken.Offset, node, name, arguments, negated);
            }
            else if (token.IsOperator("("))
            {
                node = new CallExpr(node.Offset, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private static bool StartsTestArgument(Token token) => token.Kind switch
    {
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Operator => token.Text is "[" or "{",
        TokenKind.Name => token.Text is not ("else" or "or" or "and" or "if" or "in" or "not" or "is" or "recursive"),
        _ => false,
    };

    private FilterExpr ParseFilterCall(Expr? operand)
    {
        var nameToken = Current;
        var name = ExpectName("a filter name after '|'");
        while (SkipOperator(".")) name += "." + ExpectName("a filter name");
        var arguments = Current.IsOperator("(") ? ParseCallArguments() : Arguments.None;
        return new FilterExpr(nameToken.Offset, operand, name, arguments);
    }
}
