namespace Inkwell.Templates;

/// <summary>Jinja's tests: the right-hand side of <c>x is name(args)</c>, also used by select/reject/selectattr.</summary>
internal static class JinjaTests
{
    public static bool Exists(string name) => name is
        "defined" or "undefined" or "none" or "string" or "mapping" or "iterable" or "sequence" or "number" or "integer"
        or "float" or "boolean" or "true" or "false" or "callable" or "equalto" or "eq" or "==" or "ne" or "!=" or "lt"
        or "lessthan" or "<" or "le" or "<=" or "gt" or "greaterthan" or ">" or "ge" or ">=" or "in" or "odd" or "even"
        or "divisibleby" or "sameas" or "lower" or "upper" or "escaped" or "filter" or "test";

    public static bool Apply(string name, object? value, CallArgs args)
    {
        object? Argument()
        {
            if (args.Count != 1) throw new TemplateRuntimeException($"test '{name}' takes exactly one argument, got {args.Count}");
            return args.Positional.Count == 1 ? args.Positional[0] : args.Named[0].Value;
        }

        void NoArguments()
        {
            if (args.Count != 0) throw new TemplateRuntimeException($"test '{name}' takes no arguments, got {args.Count}");
        }

        switch (name)
        {
            case "defined": NoArguments(); return value is not Undefined;
            case "undefined": NoArguments(); return value is Undefined;
            case "none": NoArguments(); return value is null;
            case "string": NoArguments(); return value is string;
            case "mapping": NoArguments(); return value is TemplateDict;
            // Jinja's Undefined iterates as empty and has a length, so it passes these two tests.
            case "iterable": NoArguments(); return value is string or TemplateList or TemplateDict or Undefined or Namespace;
            case "sequence": NoArguments(); return value is string or TemplateList or TemplateDict or Undefined;
            case "number": NoArguments(); return value is long or double or bool;
            case "integer": NoArguments(); return value is long;
            case "float": NoArguments(); return value is double;
            case "boolean": NoArguments(); return value is bool;
            case "true": NoArguments(); return value is true;
            case "false": NoArguments(); return value is false;
            case "callable": NoArguments(); return value is TemplateCallable || value is LoopContext { RecursiveCall: not null };
            case "equalto" or "eq" or "==": return Values.AreEqual(value, Argument());
            case "ne" or "!=": return !Values.AreEqual(value, Argument());
            case "lt" or "lessthan" or "<": return (bool)Operators.Binary(BinaryOperator.Less, value, Argument(), int.MaxValue)!;
            case "le" or "<=": return (bool)Operators.Binary(BinaryOperator.LessOrEqual, value, Argument(), int.MaxValue)!;
            case "gt" or "greaterthan" or ">": return (bool)Operators.Binary(BinaryOperator.Greater, value, Argument(), int.MaxValue)!;
            case "ge" or ">=": return (bool)Operators.Binary(BinaryOperator.GreaterOrEqual, value, Argument(), int.MaxValue)!;
            case "in": return Operators.Contains(Argument(), value);
            case "odd": NoArguments(); return IntegerOf(value, name) % 2 != 0;
            case "even": NoArguments(); return IntegerOf(value, name) % 2 == 0;
            case "divisibleby":
                {
                    var divisor = IntegerOf(Argument(), name);
                    return divisor != 0 && IntegerOf(value, name) % divisor == 0;
                }
            case "sameas":
                {
                    var other = Argument();
                    return value is null || value is bool || other is null || other is bool ? Equals(value, other) : ReferenceEquals(value, other);
                }
            case "lower": NoArguments(); return value is string lower && lower == lower.ToLowerInvariant();
            case "upper": NoArguments(); return value is string upper && upper == upper.ToUpperInvariant();
            case "escaped": NoArguments(); return false;
            case "filter": return Argument() is string filterName && Filters.Exists(filterName);
            case "test": return Argument() is string testName && Exists(testName);
            default: throw new TemplateRuntimeException($"unknown test '{name}'");
        }
    }

    private static long IntegerOf(object? value, string test) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d when d == Math.Floor(d) => (long)d,
        _ => throw new TemplateRuntimeException($"test '{test}' needs an integer, got {Values.TypeName(value)}"),
    };
}
