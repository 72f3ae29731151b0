using System.Runtime.CompilerServices;
using System.Text;

namespace Inkwell.Templates;

/// <summary>Variables visible at one point of a render; loops and macros get child scopes, if-blocks do not (as in Jinja).</summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public Scope? Parent => parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out value)) return true;
        }
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _variables[name] = value;

    public bool TryGetLocal(string name) => _variables.ContainsKey(name);
}

/// <summary>
/// Walks the syntax tree and writes output. Single use: one Evaluator per render. Runtime problems become
/// <see cref="TemplateException"/>s at the innermost node being evaluated.
/// </summary>
internal sealed class Evaluator
{
    private enum Flow { Normal, Break, Continue }

    private readonly LineMap _lines;
    private StringBuilder _output = new();
    private long _steps;
    private int _callDepth;
    private LoopContext? _currentLoop;

    public Evaluator(TemplateOptions options, LineMap lines)
    {
        Options = options;
        _lines = lines;
    }

    public TemplateOptions Options { get; }

    public string Render(IReadOnlyList<Stmt> body, Scope scope)
    {
        var flow = ExecuteBlock(body, scope);
        if (flow != Flow.Normal) throw new TemplateException("'break' or 'continue' outside a loop", 0, 0);
        return _output.ToString();
    }

    // ---- statements ----

    private Flow ExecuteBlock(IReadOnlyList<Stmt> body, Scope scope)
    {
        foreach (var statement in body)
        {
            var flow = Execute(statement, scope);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private void CountStep(Node at)
    {
        if (++_steps > Options.MaxSteps)
        {
            throw _lines.Error($"template ran more than {Options.MaxSteps} steps (an endless or very long loop?)", at.Offset);
        }
    }

    private void Write(string text, Node at)
    {
        if (_output.Length + text.Length > Options.MaxOutputChars)
        {
            throw _lines.Error($"template output exceeds {Options.MaxOutputChars} characters", at.Offset);
        }
        _output.Append(text);
    }

    private Flow Execute(Stmt statement, Scope scope)
    {
        CountStep(statement);
        RuntimeHelpers.EnsureSufficientExecutionStack();
        try
        {
            switch (statement)
            {
                case TextStmt text:
                    Write(text.Text, text);
                    return Flow.Normal;
                case OutputStmt output:
                    Write(Values.ToText(Evaluate(output.Value, scope)), output);
                    return Flow.Normal;
                case IfStmt conditional:
                    foreach (var (condition, body) in conditional.Branches)
                    {
                        if (Values.IsTruthy(Evaluate(condition, scope))) return ExecuteBlock(body, scope);
                    }
                    return conditional.ElseBody is null ? Flow.Normal : ExecuteBlock(conditional.ElseBody, scope);
                case ForStmt loop:
                    ExecuteFor(loop, Evaluate(loop.Iterable, scope), scope, depth: 1);
                    return Flow.Normal;
                case SetStmt set:
                    Assign(set.Target, Evaluate(set.Value, scope), scope, set);
                    return Flow.Normal;
                case SetBlockStmt setBlock:
                    {
                        object? value = Capture(() => ExecuteBlock(setBlock.Body, scope), setBlock);
                        foreach (var filter in setBlock.Filters) value = ApplyFilter(filter, value, scope);
                        Assign(setBlock.Target, value, scope, setBlock);
                        return Flow.Normal;
                    }
                case MacroStmt macro:
                    scope.Set(macro.Name, new Macro(macro.Name, macro.Parameters, macro.Body, scope, macro));
                    return Flow.Normal;
                case CallBlockStmt callBlock:
                    Write(Values.ToText(EvaluateCallBlock(callBlock, scope)), callBlock);
                    return Flow.Normal;
                case FilterBlockStmt filterBlock:
                    {
                        object? value = Capture(() => ExecuteBlock(filterBlock.Body, scope), filterBlock);
                        foreach (var filter in filterBlock.Filters) value = ApplyFilter(filter, value, scope);
                        Write(Values.ToText(value), filterBlock);
                        return Flow.Normal;
                    }
                case WithStmt with:
                    {
                        var inner = new Scope(scope);
                        foreach (var (name, value) in with.Assignments) inner.Set(name, Evaluate(value, scope));
                        return ExecuteBlock(with.Body, inner);
                    }
                case DoStmt doStatement:
                    Evaluate(doStatement.Value, scope);
                    return Flow.Normal;
                case BreakStmt:
                    return _currentLoop is null ? throw _lines.Error("'break' outside a loop", statement.Offset) : Flow.Break;
                case ContinueStmt:
                    return _currentLoop is null ? throw _lines.Error("'continue' outside a loop", statement.Offset) : Flow.Continue;
                case GenerationStmt generation:
                    return ExecuteBlock(generation.Body, scope);
                default:
                    throw new InvalidOperationException($"unknown statement {statement.GetType().Name}");
            }
        }
        catch (TemplateRuntimeException e)
        {
            throw _lines.Error(e.Message, statement.Offset, e.RaisedByTemplate);
        }
    }

    /// <summary>Runs <paramref name="body"/> with output redirected, and returns what it wrote.</summary>
    private string Capture(Func<Flow> body, Node at)
    {
        var saved = _output;
        _output = new StringBuilder();
        try
        {
            if (body() != Flow.Normal) throw _lines.Error("'break' or 'continue' outside a loop", at.Offset);
            return _output.ToString();
        }
        finally
        {
            _output = saved;
        }
    }

    private void ExecuteFor(ForStmt loop, object? iterable, Scope scope, int depth)
    {
        var source = Values.Iterate(iterable);
        IReadOnlyList<object?> items = source;
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in source)
            {
                CountStep(loop);
                var filterScope = new Scope(scope);
                BindTargets(loop.Targets, item, filterScope);
                if (Values.IsTruthy(Evaluate(loop.Filter, filterScope))) kept.Add(item);
            }
            items = kept;
        }

        if (items.Count == 0)
        {
            if (loop.ElseBody is not null && ExecuteBlock(loop.ElseBody, scope) != Flow.Normal)
            {
                throw _lines.Error("'break' or 'continue' outside a loop", loop.Offset);
            }
            return;
        }

        var savedLoop = _currentLoop;
        var context = new LoopContext(items, depth, savedLoop);
        if (loop.Recursive) context.RecursiveCall = new RecursiveLoop(this, loop, scope, depth);
        _currentLoop = context;
        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                CountStep(loop);
                context.Index0 = i;
                var iterationScope = new Scope(scope);
                BindTargets(loop.Targets, items[i], iterationScope);
                iterationScope.Set("loop", context);
                if (ExecuteBlock(loop.Body, iterationScope) == Flow.Break) break;
            }
        }
        finally
        {
            _currentLoop = savedLoop;
        }
    }

    /// <summary><c>loop(children)</c> inside a recursive for: renders the same body one level deeper.</summary>
    private sealed class RecursiveLoop(Evaluator evaluator, ForStmt loop, Scope scope, int depth) : TemplateCallable
    {
        public override string Name => "loop";

        public override object? Invoke(Evaluator caller, CallArgs args, Node at)
        {
            if (args.Count != 1) throw new TemplateRuntimeException("loop() takes exactly one argument");
            evaluator.EnterCall(at);
            try
            {
                return evaluator.Capture(() =>
                {
                    evaluator.ExecuteFor(loop, args.Positional[0], scope, depth + 1);
                    return Flow.Normal;
                }, at);
            }
            finally
            {
                evaluator._callDepth--;
            }
        }
    }

    private static void BindTargets(IReadOnlyList<string> targets, object? value, Scope scope)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        if (value is not TemplateList list || list.Count != targets.Count)
        {
            var count = value is TemplateList l ? l.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : Values.TypeName(value);
            throw new TemplateRuntimeException($"cannot unpack {count} into {targets.Count} variables ({string.Join(", ", targets)})");
        }
        for (var i = 0; i < targets.Count; i++) scope.Set(targets[i], list[i]);
    }

    private static void Assign(AssignTarget target, object? value, Scope scope, Node at)
    {
        if (target.NamespaceAttribute is { } attribute)
        {
            var name = target.Names[0];
            if (!scope.TryGet(name, out var holder) || holder is not Namespace ns)
            {
                throw new TemplateRuntimeException($"cannot assign attribute '{attribute}' on '{name}': only namespace() objects accept attribute assignment");
            }
            ns.Attributes[attribute] = value;
            return;
        }
        BindTargets(target.Names, value, scope);
    }

    private object? EvaluateCallBlock(CallBlockStmt callBlock, Scope scope)
    {
        var callee = Evaluate(callBlock.Call.Callee, scope);
        var args = EvaluateArguments(callBlock.Call.Arguments, scope);
        args.Named.Add(new("caller", new Macro("caller", callBlock.CallerParameters, callBlock.Body, scope, callBlock)));
        return Invoke(callee, args, callBlock.Call);
    }

    // ---- macros ----

    private void EnterCall(Node at)
    {
        if (++_callDepth > Options.MaxCallDepth)
        {
            _callDepth--;
            throw _lines.Error($"macro calls nest deeper than {Options.MaxCallDepth} levels (unbounded recursion?)", at.Offset);
        }
    }

    private sealed class Macro(string name, IReadOnlyList<MacroParameter> parameters, IReadOnlyList<Stmt> body, Scope definitionScope, Node definition)
        : TemplateCallable
    {
        public override string Name => name;

        public override object? Invoke(Evaluator evaluator, CallArgs args, Node at)
        {
            evaluator.EnterCall(at);
            var savedLoop = evaluator._currentLoop;
            evaluator._currentLoop = null; // break/continue cannot cross a macro boundary
            try
            {
                var scope = new Scope(definitionScope);
                var extraPositional = new TemplateList { IsTuple = true };
                for (var i = 0; i < args.Positional.Count; i++)
                {
                    if (i < parameters.Count) scope.Set(parameters[i].Name, args.Positional[i]);
                    else extraPositional.Add(args.Positional[i]);
                }
                var extraNamed = new TemplateDict();
                var hasCaller = false;
                foreach (var (key, value) in args.Named)
                {
                    var index = IndexOfParameter(key);
                    if (index >= 0)
                    {
                        if (index < args.Positional.Count) throw new TemplateRuntimeException($"macro '{name}' got multiple values for argument '{key}'");
                        scope.Set(key, value);
                    }
                    else if (key == "caller")
                    {
                        hasCaller = true;
                        scope.Set("caller", value);
                    }
                    else
                    {
                        extraNamed[key] = value;
                    }
                }
                for (var i = args.Positional.Count; i < parameters.Count; i++)
                {
                    var parameter = parameters[i];
                    if (scope.TryGetLocal(parameter.Name)) continue;
                    scope.Set(parameter.Name, parameter.Default is null
                        ? Undefined.Named(parameter.Name)
                        : evaluator.Evaluate(parameter.Default, scope));
                }
                scope.Set("varargs", extraPositional);
                scope.Set("kwargs", extraNamed);
                if (!hasCaller && !scope.TryGetLocal("caller")) scope.Set("caller", new Undefined($"macro '{name}' was not called from a call block"));
                return evaluator.Capture(() => evaluator.ExecuteBlock(body, scope), definition);
            }
            finally
            {
                evaluator._currentLoop = savedLoop;
                evaluator._callDepth--;
            }
        }

        private int IndexOfParameter(string key)
        {
            for (var i = 0; i < parameters.Count; i++)
            {
                if (parameters[i].Name == key) return i;
            }
            return -1;
        }
    }

    // ---- expressions ----

    public object? Evaluate(Expr expression, Scope scope)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        try
        {
            return EvaluateCore(expression, scope);
        }
        catch (TemplateRuntimeException e)
        {
            throw _lines.Error(e.Message, expression.Offset, e.RaisedByTemplate);
        }
    }

    private object? EvaluateCore(Expr expression, Scope scope)
    {
        switch (expression)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return scope.TryGet(name.Name, out var value) ? value : Undefined.Named(name.Name);
            case ListExpr list:
                {
                    var result = new TemplateList { IsTuple = list.IsTuple };
                    foreach (var item in list.Items) result.Add(Evaluate(item, scope));
                    return result;
                }
            case DictExpr dict:
                {
                    var result = new TemplateDict();
                    foreach (var (keyExpr, valueExpr) in dict.Entries)
                    {
                        var key = Evaluate(keyExpr, scope);
                        if (key is null or Undefined or TemplateList or TemplateDict)
                        {
                            throw _lines.Error($"a dict key must be a string, number or bool, got {Values.TypeName(key)}", keyExpr.Offset);
                        }
                        result[key] = Evaluate(valueExpr, scope);
                    }
                    return result;
                }
            case AttributeExpr attribute:
                return Access.GetAttribute(Evaluate(attribute.Target, scope), attribute.Attribute);
            case IndexExpr index:
                return Access.GetItem(Evaluate(index.Target, scope), Evaluate(index.Index, scope));
            case SliceExpr slice:
                return Access.Slice(
                    Evaluate(slice.Target, scope),
                    slice.Start is null ? null : Evaluate(slice.Start, scope),
                    slice.Stop is null ? null : Evaluate(slice.Stop, scope),
                    slice.Step is null ? null : Evaluate(slice.Step, scope));
            case CallExpr call:
                return Invoke(Evaluate(call.Callee, scope), EvaluateArguments(call.Arguments, scope), call);
            case FilterExpr filter:
                return ApplyFilter(filter, filter.Operand is null ? null : Evaluate(filter.Operand, scope), scope);
            case TestExpr test:
                {
                    var result = JinjaTests.Apply(test.Name, Evaluate(test.Operand, scope), EvaluateArguments(test.Arguments, scope));
                    return test.Negated ? !result : result;
                }
            case UnaryExpr unary:
                {
                    var operand = Evaluate(unary.Operand, scope);
                    return unary.Operator switch
                    {
                        UnaryOperator.Not => !Values.IsTruthy(operand),
                        UnaryOperator.Negate => Operators.Negate(operand),
                        _ => Values.IsNumber(operand) ? operand is bool b ? (b ? 1L : 0L) : operand
                            : throw new TemplateRuntimeException($"bad operand type for unary +: {Values.TypeName(operand)}"),
                    };
                }
            case BinaryExpr binary:
                return EvaluateBinary(binary, scope);
            case ConditionalExpr conditional:
                if (Values.IsTruthy(Evaluate(conditional.Condition, scope))) return Evaluate(conditional.Then, scope);
                return conditional.Otherwise is null ? new Undefined("conditional expression without else") : Evaluate(conditional.Otherwise, scope);
            default:
                throw new InvalidOperationException($"unknown expression {expression.GetType().Name}");
        }
    }

    private object? EvaluateBinary(BinaryExpr binary, Scope scope)
    {
        var left = Evaluate(binary.Left, scope);
        switch (binary.Operator)
        {
            case BinaryOperator.And:
                return Values.IsTruthy(left) ? Evaluate(binary.Right, scope) : left;
            case BinaryOperator.Or:
                return Values.IsTruthy(left) ? left : Evaluate(binary.Right, scope);
        }
        var right = Evaluate(binary.Right, scope);
        return Operators.Binary(binary.Operator, left, right, Options.MaxOutputChars);
    }

    public CallArgs EvaluateArguments(Arguments arguments, Scope scope)
    {
        var positional = new List<object?>(arguments.Positional.Count);
        foreach (var argument in arguments.Positional) positional.Add(Evaluate(argument, scope));
        var named = new List<KeyValuePair<string, object?>>(arguments.Named.Count);
        foreach (var (name, argument) in arguments.Named) named.Add(new(name, Evaluate(argument, scope)));
        return new CallArgs(positional, named);
    }

    private object? Invoke(object? callee, CallArgs args, Node at)
    {
        CountStep(at);
        return callee switch
        {
            TemplateCallable callable => callable.Invoke(this, args, at),
            LoopContext { RecursiveCall: { } recursive } => recursive.Invoke(this, args, at),
            Undefined undefined => throw new TemplateRuntimeException($"{undefined.Description}, so it cannot be called"),
            _ => throw new TemplateRuntimeException($"{Values.TypeName(callee)} is not callable"),
        };
    }

    private object? ApplyFilter(FilterExpr filter, object? value, Scope scope)
    {
        try
        {
            return Filters.Apply(this, filter.Name, value, EvaluateArguments(filter.Arguments, scope));
        }
        catch (TemplateRuntimeException e)
        {
            throw _lines.Error(e.Message, filter.Offset, e.RaisedByTemplate);
        }
    }
}
