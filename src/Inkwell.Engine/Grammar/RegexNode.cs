namespace Inkwell.Engine.Grammar;

/// <summary>Parsed regex. Characters are Unicode code points; the NFA builder turns them into UTF-8 bytes.</summary>
internal abstract record RegexNode
{
    public static readonly RegexNode Empty = new ConcatNode([]);
    public static readonly RegexNode Nothing = new SetNode(CodePointSet.None);
}

/// <summary>One code point from a set (a literal is a set of one).</summary>
internal sealed record SetNode(CodePointSet Set) : RegexNode;

internal sealed record ConcatNode(RegexNode[] Items) : RegexNode;

internal sealed record AltNode(RegexNode[] Items) : RegexNode;

/// <summary>Item repeated Min..Max times; Max = -1 means unbounded.</summary>
internal sealed record RepeatNode(RegexNode Item, int Min, int Max) : RegexNode;

/// <summary>Sorted, disjoint, non-adjacent inclusive code point ranges. Immutable.</summary>
internal sealed class CodePointSet
{
    public const int MaxCodePoint = 0x10FFFF;

    public static readonly CodePointSet None = new([]);
    public static readonly CodePointSet Any = new([(0, MaxCodePoint)]);
    public static readonly CodePointSet Digit = new([('0', '9')]);
    // ASCII \w and \s, as ECMAScript (and JSON Schema patterns) define them.
    public static readonly CodePointSet Word = FromRanges([('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]);
    public static readonly CodePointSet Space = FromRanges([('\t', '\r'), (' ', ' ')]);

    public (int Lo, int Hi)[] Ranges { get; }

    private CodePointSet((int Lo, int Hi)[] normalized) => Ranges = normalized;

    public bool IsEmpty => Ranges.Length == 0;

    public bool Contains(int cp)
    {
        foreach (var (lo, hi) in Ranges)
        {
            if (cp < lo) return false;
            if (cp <= hi) return true;
        }
        return false;
    }

    public static CodePointSet Single(int cp) => new([(cp, cp)]);

    public static CodePointSet FromRanges(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var list = ranges.Where(r => r.Lo <= r.Hi).OrderBy(r => r.Lo).ToList();
        var merged = new List<(int Lo, int Hi)>(list.Count);
        foreach (var r in list)
        {
            if (merged.Count > 0 && r.Lo <= merged[^1].Hi + 1)
                merged[^1] = (merged[^1].Lo, Math.Max(merged[^1].Hi, r.Hi));
            else
                merged.Add(r);
        }
        return new CodePointSet([.. merged]);
    }

    public CodePointSet Union(CodePointSet other) => FromRanges(Ranges.Concat(other.Ranges));

    public CodePointSet Negate()
    {
        var result = new List<(int, int)>();
        int next = 0;
        foreach (var (lo, hi) in Ranges)
        {
            if (lo > next) result.Add((next, lo - 1));
            next = hi + 1;
        }
        if (next <= MaxCodePoint) result.Add((next, MaxCodePoint));
        return new CodePointSet([.. result]);
    }
}
