using System.Globalization;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// Regexes for the decimal spellings (no leading zeros) of the integers in a range, split by digit count and then by
/// shared prefixes, as llama.cpp's json-schema-to-grammar does for minimum/maximum: [15,213] is
/// 1[5-9] | [2-9][0-9] | 1[0-9]{2} | 2(?:0[0-9]|1[0-3]).
/// </summary>
internal static class IntegerRange
{
    /// <summary>Integers lo..hi, negatives with a '-' (and no "-0").</summary>
    public static string Signed(long lo, long hi)
    {
        var parts = new List<string>(2);
        if (hi >= 0) parts.Add(Unsigned(Math.Max(lo, 0), hi));
        if (lo < 0) parts.Add("-" + Unsigned(hi < 0 ? -hi : 1, -lo));
        return parts.Count == 1 ? parts[0] : "(?:" + string.Join("|", parts) + ")";
    }

    /// <summary>Integers from..to, 0 &lt;= from &lt;= to.</summary>
    public static string Unsigned(long from, long to)
    {
        var parts = new List<string>();
        for (int digits = Text(from).Length; digits <= Text(to).Length; digits++)
        {
            long lo = Math.Max(from, digits == 1 ? 0 : Pow10(digits - 1));
            long hi = Math.Min(to, Pow10(digits) - 1);
            parts.Add(SameLength(Text(lo), Text(hi)));
        }
        return parts.Count == 1 ? parts[0] : "(?:" + string.Join("|", parts) + ")";
    }

    /// <summary>Digit strings of one length between x and y (x &lt;= y): the common prefix, then low edge, middle, high edge.</summary>
    private static string SameLength(string x, string y)
    {
        int p = 0;
        while (p < x.Length && x[p] == y[p]) p++;
        if (p == x.Length) return x;
        string prefix = x[..p];
        char x0 = x[p], y0 = y[p];
        string xRest = x[(p + 1)..], yRest = y[(p + 1)..];
        int rest = xRest.Length;
        if (rest == 0) return prefix + Digits(x0, y0);
        bool lowIsZeros = xRest.All(c => c == '0'), highIsNines = yRest.All(c => c == '9');
        char midLo = lowIsZeros ? x0 : (char)(x0 + 1), midHi = highIsNines ? y0 : (char)(y0 - 1);
        var alternatives = new List<string>(3);
        if (!lowIsZeros) alternatives.Add(x0 + SameLength(xRest, new string('9', rest)));
        if (midLo <= midHi) alternatives.Add(Digits(midLo, midHi) + (rest == 1 ? "[0-9]" : $"[0-9]{{{rest}}}"));
        if (!highIsNines) alternatives.Add(y0 + SameLength(new string('0', rest), yRest));
        return prefix + (alternatives.Count == 1 ? alternatives[0] : "(?:" + string.Join("|", alternatives) + ")");
    }

    private static string Digits(char lo, char hi) => lo == hi ? lo.ToString() : $"[{lo}-{hi}]";

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static long Pow10(int exponent)
    {
        long p = 1;
        for (int i = 0; i < exponent; i++) p *= 10;
        return p;
    }
}
