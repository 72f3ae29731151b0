using System.Globalization;
using System.Text;

namespace Inkwell.Templates;

/// <summary>Arithmetic, comparison and membership with Python's rules (bools count as integers, // and % floor).</summary>
internal static class Operators
{
    public static object? Negate(object? value) => value switch
    {
        long l => l == long.MinValue ? throw new TemplateRuntimeException("integer overflow") : (object)-l,
        double d => -d,
        bool b => b ? -1L : 0L,
        _ => throw new TemplateRuntimeException($"bad operand type for unary -: {Describe(value)}"),
    };

    public static object? Binary(BinaryOperator op, object? left, object? right, int maxLength) => op switch
    {
        BinaryOperator.Add => Add(left, right, maxLength),
        BinaryOperator.Subtract => Arithmetic(op, "-", left, right),
        BinaryOperator.Multiply => Multiply(left, right, maxLength),
        BinaryOperator.Divide => Divide(left, right),
        BinaryOperator.FloorDivide => Arithmetic(op, "//", left, right),
        BinaryOperator.Modulo => left is string format ? Formatting.Printf(format, right) : Arithmetic(op, "%", left, right),
        BinaryOperator.Power => Arithmetic(op, "**", left, right),
        BinaryOperator.Concat => CheckLength(Values.ToText(left) + Values.ToText(right), maxLength),
        BinaryOperator.Equal => Values.AreEqual(left, right),
        BinaryOperator.NotEqual => !Values.AreEqual(left, right),
        BinaryOperator.Less => Compare(left, right, "<") < 0,
        BinaryOperator.LessOrEqual => Compare(left, right, "<=") <= 0,
        BinaryOperator.Greater => Compare(left, right, ">") > 0,
        BinaryOperator.GreaterOrEqual => Compare(left, right, ">=") >= 0,
        BinaryOperator.In => Contains(right, left),
        BinaryOperator.NotIn => !Contains(right, left),
        _ => throw new InvalidOperationException($"operator {op} is evaluated elsewhere"),
    };

    /// <summary>How an operand is named in errors: an undefined operand names what was missing.</summary>
    private static string Describe(object? value) => value is Undefined u ? $"undefined ({u.Description})" : $"'{Values.TypeName(value)}'";

    private static TemplateRuntimeException Unsupported(string symbol, object? left, object? right) =>
        new($"unsupported operand types for {symbol}: {Describe(left)} and {Describe(right)}");

    private static int Compare(object? left, object? right, string symbol)
    {
        if ((Values.IsNumber(left) && Values.IsNumber(right)) || (left is string && right is string) || (left is TemplateList && right is TemplateList))
        {
            return Values.Compare(left, right);
        }
        throw new TemplateRuntimeException($"'{symbol}' not supported between {Describe(left)} and {Describe(right)}");
    }

    private static string CheckLength(string text, int maxLength) =>
        text.Length > maxLength ? throw new TemplateRuntimeException($"string longer than {maxLength} characters") : text;

    private static object? Add(object? left, object? right, int maxLength)
    {
        if (left is string ls && right is string rs)
        {
            if ((long)ls.Length + rs.Length > maxLength) throw new TemplateRuntimeException($"string longer than {maxLength} characters");
            return ls + rs;
        }
        if (left is TemplateList ll && right is TemplateList rl)
        {
            if ((long)ll.Count + rl.Count > maxLength) throw new TemplateRuntimeException($"list longer than {maxLength} items");
            return new TemplateList([.. ll, .. rl]) { IsTuple = ll.IsTuple && rl.IsTuple };
        }
        return Arithmetic(BinaryOperator.Add, "+", left, right);
    }

    private static object? Multiply(object? left, object? right, int maxLength)
    {
        if (left is string or TemplateList && right is long or bool) return Repeat(left, right, maxLength);
        if (right is string or TemplateList && left is long or bool) return Repeat(right, left, maxLength);
        return Arithmetic(BinaryOperator.Multiply, "*", left, right);
    }

    private static object Repeat(object? sequence, object? times, int maxLength)
    {
        var count = Math.Max(0, (long)Values.ToDouble(times));
        var length = sequence is string s ? s.Length : ((TemplateList)sequence!).Count;
        if (count * length > maxLength) throw new TemplateRuntimeException($"repetition would exceed {maxLength} items");
        if (sequence is string text)
        {
            var builder = new StringBuilder(text.Length * (int)count);
            for (var i = 0; i < count; i++) builder.Append(text);
            return builder.ToString();
        }
        var list = (TemplateList)sequence!;
        var result = new TemplateList { IsTuple = list.IsTuple };
        for (var i = 0; i < count; i++) result.AddRange(list);
        return result;
    }

    private static object Divide(object? left, object? right)
    {
        if (!Values.IsNumber(left) || !Values.IsNumber(right)) throw Unsupported("/", left, right);
        var divisor = Values.ToDouble(right);
        if (divisor == 0) throw new TemplateRuntimeException("division by zero");
        return Values.ToDouble(left) / divisor;
    }

    private static object Arithmetic(BinaryOperator op, string symbol, object? left, object? right)
    {
        if (!Values.IsNumber(left) || !Values.IsNumber(right)) throw Unsupported(symbol, left, right);
        if (left is not double && right is not double)
        {
            var a = left is bool lb ? (lb ? 1L : 0L) : (long)left!;
            var b = right is bool rb ? (rb ? 1L : 0L) : (long)right!;
            try
            {
                switch (op)
                {
                    case BinaryOperator.Add: return checked(a + b);
                    case BinaryOperator.Subtract: return checked(a - b);
                    case BinaryOperator.Multiply: return checked(a * b);
                    case BinaryOperator.FloorDivide:
                        if (b == 0) throw new TemplateRuntimeException("integer division by zero");
                        return FloorDivide(a, b);
                    case BinaryOperator.Modulo:
                        if (b == 0) throw new TemplateRuntimeException("integer modulo by zero");
                        var remainder = a % b;
                        return remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder;
                    case BinaryOperator.Power:
                        return b < 0 ? Math.Pow(a, b) : (object)IntegerPower(a, b);
                }
            }
            catch (OverflowException)
            {
                throw new TemplateRuntimeException($"integer overflow in {symbol}");
            }
        }
        var x = Values.ToDouble(left);
        var y = Values.ToDouble(right);
        switch (op)
        {
            case BinaryOperator.Add: return x + y;
            case BinaryOperator.Subtract: return x - y;
            case BinaryOperator.Multiply: return x * y;
            case BinaryOperator.FloorDivide:
                if (y == 0) throw new TemplateRuntimeException("float floor division by zero");
                return Math.Floor(x / y);
            case BinaryOperator.Modulo:
                if (y == 0) throw new TemplateRuntimeException("float modulo by zero");
                var r = x % y;
                return r != 0 && (r < 0) != (y < 0) ? r + y : r;
            case BinaryOperator.Power: return Math.Pow(x, y);
            default: throw new InvalidOperationException(symbol);
        }
    }

    /// <summary>Exponentiation by squaring; overflow throws instead of wrapping.</summary>
    private static long IntegerPower(long value, long exponent)
    {
        long result = 1;
        while (exponent > 0)
        {
            if ((exponent & 1) != 0) result = checked(result * value);
            exponent >>= 1;
            if (exponent > 0) value = checked(value * value);
        }
        return result;
    }

    private static long FloorDivide(long a, long b)
    {
        if (a == long.MinValue && b == -1) throw new OverflowException();
        var quotient = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? quotient - 1 : quotient;
    }

    /// <summary>Python's <c>item in container</c>; membership in undefined is false, as Jinja's Undefined iterates as empty.</summary>
    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string text:
                if (item is not string needle) throw new TemplateRuntimeException($"'in <string>' requires a string on the left, not {Describe(item)}");
                return text.Contains(needle, StringComparison.Ordinal);
            case TemplateList list:
                foreach (var element in list)
                {
                    if (Values.AreEqual(element, item)) return true;
                }
                return false;
            case TemplateDict dict:
                return item is not null && dict.ContainsKey(item);
            case Namespace ns:
                return item is string key && ns.Attributes.ContainsKey(key);
            case Undefined:
                return false;
            default:
                throw new TemplateRuntimeException($"argument of type {Describe(container)} is not iterable");
        }
    }
}

/// <summary>Python's printf-style <c>"%s" % value</c> (used by the format filter too).</summary>
internal static class Formatting
{
    public static string Printf(string format, object? arguments)
    {
        var values = arguments is TemplateList { IsTuple: true } tuple ? tuple : [arguments];
        var builder = new StringBuilder();
        var next = 0;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c != '%')
            {
                builder.Append(c);
                continue;
            }
            if (++i >= format.Length) throw new TemplateRuntimeException("incomplete format: '%' at the end");
            // flags, width and precision: kept simple, as templates use %s / %d / %.2f
            var specStart = i;
            while (i < format.Length && "-+ 0#".Contains(format[i])) i++;
            while (i < format.Length && char.IsAsciiDigit(format[i])) i++;
            int? precision = null;
            if (i < format.Length && format[i] == '.')
            {
                var p = ++i;
                while (i < format.Length && char.IsAsciiDigit(format[i])) i++;
                precision = i > p ? int.Parse(format.AsSpan(p, i - p), CultureInfo.InvariantCulture) : 0;
            }
            if (i >= format.Length) throw new TemplateRuntimeException("incomplete format specifier");
            var conversion = format[i];
            if (conversion == '%')
            {
                builder.Append('%');
                continue;
            }
            if (next >= values.Count) throw new TemplateRuntimeException("not enough arguments for format string");
            var value = values[next++];
            var widthText = format[specStart..i];
            if (precision is not null) widthText = widthText[..widthText.IndexOf('.')];
            var leftAlign = widthText.Contains('-');
            var zeroPad = widthText.TrimStart('-', '+', ' ', '#').StartsWith('0');
            var digits = widthText.TrimStart('-', '+', ' ', '0', '#');
            var width = digits.Length > 0 ? int.Parse(digits, CultureInfo.InvariantCulture) : 0;
            var text = conversion switch
            {
                's' => Values.ToText(value),
                'r' => Values.Repr(value),
                'd' or 'i' => ((long)Math.Truncate(Values.ToDouble(value))).ToString(CultureInfo.InvariantCulture),
                'f' or 'F' => Values.ToDouble(value).ToString("F" + (precision ?? 6), CultureInfo.InvariantCulture),
                'e' => Values.ToDouble(value).ToString((precision ?? 6) == 0 ? "0e+00" : "0." + new string('0', precision ?? 6) + "e+00", CultureInfo.InvariantCulture),
                'x' => ((long)Values.ToDouble(value)).ToString("x", CultureInfo.InvariantCulture),
                'X' => ((long)Values.ToDouble(value)).ToString("X", CultureInfo.InvariantCulture),
                'o' => Convert.ToString((long)Values.ToDouble(value), 8),
                _ => throw new TemplateRuntimeException($"unsupported format character '{conversion}'"),
            };
            if (conversion == 's' && precision is { } maxChars && text.Length > maxChars) text = text[..maxChars];
            if (text.Length < width)
            {
                text = leftAlign ? text.PadRight(width)
                    : zeroPad && conversion != 's' ? (text.StartsWith('-') ? "-" + text[1..].PadLeft(width - 1, '0') : text.PadLeft(width, '0'))
                    : text.PadLeft(width);
            }
            builder.Append(text);
        }
        if (next < values.Count && arguments is TemplateList { IsTuple: true })
        {
            throw new TemplateRuntimeException("not all arguments converted during string formatting");
        }
        return builder.ToString();
    }
}
