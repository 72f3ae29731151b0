namespace Inkwell.Engine.Grammar;

/// <summary>
/// A deterministic automaton over UTF-8 bytes with no dead states: every state can still reach an accepting
/// one, and a missing transition is -1. Bytes are grouped into equivalence classes (bytes the grammar never
/// tells apart), which keeps the table small: StateCount x ClassCount ints.
/// </summary>
public sealed class ByteDfa
{
    private readonly byte[] _classOf;
    private readonly int[] _table;
    private readonly bool[] _accepting;

    internal ByteDfa(byte[] classOf, int classCount, int[] table, bool[] accepting)
    {
        _classOf = classOf;
        ClassCount = classCount;
        _table = table;
        _accepting = accepting;
    }

    // Raw access for the token-index walk, which indexes rows itself.
    internal ReadOnlySpan<byte> ClassOf => _classOf;
    internal ReadOnlySpan<int> Table => _table;

    /// <summary>The start state is always 0.</summary>
    public int Start => 0;

    public int StateCount => _accepting.Length;

    public int ClassCount { get; }

    public bool IsAccepting(int state) => _accepting[state];

    /// <summary>The state after reading byte b, or -1 when no match can continue that way.</summary>
    public int Next(int state, byte b) => _table[state * ClassCount + _classOf[b]];

    /// <summary>Whether the whole input is in the language.</summary>
    public bool Matches(ReadOnlySpan<byte> utf8)
    {
        int s = Start;
        foreach (byte b in utf8)
        {
            s = Next(s, b);
            if (s < 0) return false;
        }
        return _accepting[s];
    }
}
