using System.Numerics;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// A grammar lifted from bytes to one vocabulary's tokens. For each reachable state: a bitset of the tokens that
/// may come next and, for each, the state after it. Only states from which an accepting state is still reachable
/// by whole tokens are kept, so generation never paints itself into a corner. End-of-generation tokens are
/// allowed exactly in accepting states and leave the state unchanged.
/// Per-token work at generation time: Next is a binary search over the state's sorted transitions, ApplyMask is
/// one pass over vocab/64 mask words; neither allocates.
/// </summary>
public sealed class TokenAutomaton
{
    private readonly int _words;
    private readonly ulong[] _masks;          // state * _words .. : allowed tokens
    private readonly int[] _transStart;       // state -> first index in _transToken/_transNext
    private readonly int[] _transToken;       // sorted by token within a state
    private readonly int[] _transNext;
    private readonly bool[] _accepting;
    private readonly bool[] _deadEnd;
    private readonly bool[] _isEndOfGeneration;

    private TokenAutomaton(int vocabSize, int words, ulong[] masks, int[] transStart, int[] transToken, int[] transNext,
        bool[] accepting, bool[] isEndOfGeneration)
    {
        VocabularySize = vocabSize;
        _words = words;
        _masks = masks;
        _transStart = transStart;
        _transToken = transToken;
        _transNext = transNext;
        _accepting = accepting;
        _isEndOfGeneration = isEndOfGeneration;
        _deadEnd = new bool[accepting.Length];
        for (int s = 0; s < accepting.Length; s++) _deadEnd[s] = masks.AsSpan(s * words, words).IndexOfAnyExcept(0UL) < 0;
    }

    public int InitialState => 0;

    public int StateCount => _accepting.Length;

    public int VocabularySize { get; }

    /// <summary>Total (state, token) transitions stored; a measure of the index's size.</summary>
    public int TransitionCount => _transToken.Length;

    public bool IsAccepting(int state) => _accepting[state];

    /// <summary>True when no token at all may follow (an accepting state of a vocabulary without end tokens).</summary>
    public bool IsDeadEnd(int state) => _deadEnd[state];

    /// <summary>Bit t of word t/64 is set when token t may come next. Length is ceil(vocab/64).</summary>
    public ReadOnlySpan<ulong> AllowedMask(int state) => _masks.AsSpan(state * _words, _words);

    public bool IsAllowed(int state, int token) =>
        (uint)token < (uint)VocabularySize && (_masks[state * _words + (token >> 6)] & (1UL << (token & 63))) != 0;

    /// <summary>The state after emitting token, or -1 when the grammar does not allow it here.</summary>
    public int Next(int state, int token)
    {
        if ((uint)token >= (uint)VocabularySize) return -1;
        if (_isEndOfGeneration[token]) return _accepting[state] ? state : -1;
        int lo = _transStart[state], hi = _transStart[state + 1] - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int t = _transToken[mid];
            if (t == token) return _transNext[mid];
            if (t < token) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }

    /// <summary>Sets every disallowed logit to -infinity, including logits past the vocabulary (padded heads).</summary>
    public void ApplyMask(int state, Span<float> logits)
    {
        var mask = AllowedMask(state);
        int n = logits.Length;
        for (int w = 0; w < mask.Length; w++)
        {
            int start = w << 6;
            if (start >= n) return;
            int len = Math.Min(64, n - start);
            ulong blocked = ~mask[w];
            if (len < 64) blocked &= (1UL << len) - 1;
            if (blocked == 0) continue;
            if (blocked == ulong.MaxValue) { logits.Slice(start, 64).Fill(float.NegativeInfinity); continue; }
            do
            {
                int bit = BitOperations.TrailingZeroCount(blocked);
                logits[start + bit] = float.NegativeInfinity;
                blocked &= blocked - 1;
            } while (blocked != 0);
        }
        int covered = mask.Length << 6;
        if (n > covered) logits[covered..].Fill(float.NegativeInfinity);
    }

    /// <summary>Convenience: builds a vocabulary (trie) and the index. Reuse a <see cref="TokenVocabulary"/> when compiling many grammars.</summary>
    public static TokenAutomaton Build(ByteDfa dfa, IReadOnlyList<byte[]> tokenBytes, IEnumerable<int> endOfGenerationIds) =>
        Build(dfa, new TokenVocabulary(tokenBytes, endOfGenerationIds));

    /// <summary>
    /// Walks the vocabulary trie from every reachable DFA state (shared prefixes walked once, dead branches cut
    /// at the first byte the grammar rejects), then keeps the states from which acceptance stays reachable.
    /// </summary>
    public static TokenAutomaton Build(ByteDfa dfa, TokenVocabulary vocab, CancellationToken ct = default)
    {
        var idOf = new Dictionary<int, int> { [dfa.Start] = 0 };
        var dfaOf = new List<int> { dfa.Start };
        var outStart = new List<int>();
        var outToken = new List<int>();
        var outNext = new List<int>();   // compact ids
        var stack = new Stack<(int Node, int State)>();
        var scratch = new List<(int Token, int Next)>();

        for (int k = 0; k < dfaOf.Count; k++)
        {
            if ((k & 15) == 0) ct.ThrowIfCancellationRequested();
            scratch.Clear();
            stack.Push((0, dfaOf[k]));
            while (stack.Count > 0)
            {
                var (node, state) = stack.Pop();
                if (node != 0)
                    for (int i = vocab.TokenStart[node]; i < vocab.TokenStart[node + 1]; i++) scratch.Add((vocab.NodeTokens[i], state));
                for (int c = vocab.ChildStart[node]; c < vocab.ChildStart[node + 1]; c++)
                {
                    int next = dfa.Next(state, vocab.ChildByte[c]);
                    if (next >= 0) stack.Push((vocab.ChildNode[c], next));
                }
            }
            scratch.Sort(static (a, b) => a.Token.CompareTo(b.Token));
            outStart.Add(outToken.Count);
            foreach (var (token, next) in scratch)
            {
                if (!idOf.TryGetValue(next, out int id))
                {
                    id = dfaOf.Count;
                    idOf.Add(next, id);
                    dfaOf.Add(next);
                }
                outToken.Add(token);
                outNext.Add(id);
            }
        }
        outStart.Add(outToken.Count);
        return Finish(dfa, vocab, dfaOf, outStart, outToken, outNext);
    }

    /// <summary>Drops states that cannot reach acceptance with whole tokens, renumbers, and lays out masks.</summary>
    private static TokenAutomaton Finish(ByteDfa dfa, TokenVocabulary vocab, List<int> dfaOf, List<int> start, List<int> token, List<int> next)
    {
        int n = dfaOf.Count;
        bool canEnd = vocab.EndOfGenerationIds.Count > 0;
        var preds = new List<int>[n];
        for (int s = 0; s < n; s++) preds[s] = [];
        for (int s = 0; s < n; s++)
            for (int i = start[s]; i < start[s + 1]; i++) preds[next[i]].Add(s);
        var live = new bool[n];
        var queue = new Queue<int>();
        for (int s = 0; s < n; s++) if (dfa.IsAccepting(dfaOf[s])) { live[s] = true; queue.Enqueue(s); }
        while (queue.Count > 0)
            foreach (int p in preds[queue.Dequeue()])
                if (!live[p]) { live[p] = true; queue.Enqueue(p); }
        if (!live[0]) throw GrammarException.Invalid("no sequence of this vocabulary's tokens can match it");

        var newId = new int[n];
        int count = 0;
        for (int s = 0; s < n; s++) newId[s] = live[s] ? count++ : -1;
        int words = (vocab.Count + 63) >> 6;
        var masks = new ulong[(long)count * words];
        var accepting = new bool[count];
        var transStart = new int[count + 1];
        var transToken = new List<int>(token.Count);
        var transNext = new List<int>(token.Count);
        for (int s = 0; s < n; s++)
        {
            if (!live[s]) continue;
            int id = newId[s];
            transStart[id] = transToken.Count;
            var mask = masks.AsSpan(id * words, words);
            for (int i = start[s]; i < start[s + 1]; i++)
            {
                int target = newId[next[i]];
                if (target < 0) continue;
                transToken.Add(token[i]);
                transNext.Add(target);
                mask[token[i] >> 6] |= 1UL << (token[i] & 63);
            }
            accepting[id] = dfa.IsAccepting(dfaOf[s]);
            if (accepting[id] && canEnd)
                foreach (int e in vocab.EndOfGenerationIds) mask[e >> 6] |= 1UL << (e & 63);
        }
        transStart[count] = transToken.Count;
        return new TokenAutomaton(vocab.Count, words, masks, transStart, [.. transToken], [.. transNext], accepting, vocab.IsEndOfGeneration);
    }
}
