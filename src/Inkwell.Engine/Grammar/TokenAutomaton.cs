using System.Diagnostics;
using System.Numerics;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// A grammar lifted from bytes to one vocabulary's tokens. States are the byte DFA's states. Per state, a bitset
/// of the tokens that may come next (a token is allowed when all its bytes walk through the DFA; end-of-generation
/// tokens exactly in accepting states). Next walks the token's bytes through the DFA: O(token length), no table.
/// Masks are built by walking the vocabulary trie from the state (shared prefixes once, cut at the first rejected
/// byte). Build precomputes masks breadth-first from the initial state within a time budget; any state not yet
/// done is computed on first use (once, a trie walk plus one vocab/64 array) and then cached, so a huge grammar
/// cannot stall compilation. After that every call is O(1) or O(vocab/64) and allocation-free.
/// </summary>
public sealed class TokenAutomaton
{
    private readonly ByteDfa _dfa;
    private readonly TokenVocabulary _vocab;
    private readonly ulong[]?[] _masks;
    private readonly int _words;

    private TokenAutomaton(ByteDfa dfa, TokenVocabulary vocab)
    {
        _dfa = dfa;
        _vocab = vocab;
        _words = (vocab.Count + 63) >> 6;
        _masks = new ulong[]?[dfa.StateCount];
    }

    public ByteDfa Dfa => _dfa;

    public int InitialState => _dfa.Start;

    public int StateCount => _dfa.StateCount;

    public int VocabularySize => _vocab.Count;

    /// <summary>How many distinct masks the precompute step kept (states share equal masks).</summary>
    public int DistinctMasks { get; private set; }

    /// <summary>How many states have their mask built (the rest are built on first use).</summary>
    public int PrecomputedStates => _masks.Count(m => m is not null);

    public bool IsAccepting(int state) => _dfa.IsAccepting(state);

    /// <summary>True when no token at all may follow: the vocabulary cannot spell any continuation here.</summary>
    public bool IsDeadEnd(int state) => AllowedMask(state).IndexOfAnyExcept(0UL) < 0;

    /// <summary>Bit t%64 of word t/64 is set when token t may come next. Length is ceil(vocab/64).</summary>
    public ReadOnlySpan<ulong> AllowedMask(int state) => Volatile.Read(ref _masks[state]) ?? BuildMask(state, null);

    public bool IsAllowed(int state, int token) =>
        (uint)token < (uint)VocabularySize && (AllowedMask(state)[token >> 6] & (1UL << (token & 63))) != 0;

    /// <summary>The state after emitting token, or -1 when the grammar does not allow it here. End tokens keep the state.</summary>
    public int Next(int state, int token)
    {
        if ((uint)token >= (uint)VocabularySize) return -1;
        if (_vocab.IsEndOfGeneration[token]) return _dfa.IsAccepting(state) ? state : -1;
        if ((AllowedMask(state)[token >> 6] & (1UL << (token & 63))) == 0) return -1; // also refuses pruned tokens
        var bytes = _vocab.Bytes(token);
        if (bytes.IsEmpty) return -1;
        foreach (byte b in bytes)
        {
            state = _dfa.Next(state, b);
            if (state < 0) return -1;
        }
        return state;
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
                logits[start + BitOperations.TrailingZeroCount(blocked)] = float.NegativeInfinity;
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
    /// Builds masks breadth-first from the initial state until all reachable states are done or precomputeBudget
    /// (default 1 s) runs out; the rest are built lazily. Throws if no token can even start the grammar.
    /// </summary>
    public static TokenAutomaton Build(ByteDfa dfa, TokenVocabulary vocab, CancellationToken ct = default, TimeSpan? precomputeBudget = null)
    {
        var automaton = new TokenAutomaton(dfa, vocab);
        var budget = precomputeBudget ?? TimeSpan.FromSeconds(1);
        var clock = Stopwatch.StartNew();
        var seen = new bool[dfa.StateCount];
        // States often share a mask (e.g. the positions inside a length-limited string): keep one copy.
        var distinct = new Dictionary<ulong[], ulong[]>(MaskComparer.Instance);
        var successors = new int[dfa.StateCount][];
        bool complete = true;
        var level = new List<int> { dfa.Start };
        seen[dfa.Start] = true;
        var options = new ParallelOptions { CancellationToken = ct };
        // Breadth-first by levels; the states of a level are independent trie walks, so they run in parallel.
        while (level.Count > 0 && clock.Elapsed < budget)
        {
            var found = new List<int>[level.Count];
            Parallel.For(0, level.Count, options, () => new Scratch(dfa.StateCount), (i, _, scratch) =>
            {
                if (clock.Elapsed >= budget) return scratch; // out of time: this one is built on first use
                scratch.Begin();
                automaton.BuildMask(level[i], scratch);
                found[i] = [.. scratch.Successors];
                return scratch;
            }, _ => { });
            var next = new List<int>();
            for (int i = 0; i < level.Count; i++)
            {
                if (found[i] is null) { complete = false; continue; }
                int s = level[i];
                successors[s] = [.. found[i]];
                var mask = automaton._masks[s]!;
                if (distinct.TryGetValue(mask, out var shared)) automaton._masks[s] = shared;
                else distinct.Add(mask, mask);
                foreach (int t in found[i])
                    if (!seen[t]) { seen[t] = true; next.Add(t); }
            }
            level = next;
        }
        if (complete && level.Count == 0) automaton.PruneTokenDeadEnds(seen, successors);
        automaton.DistinctMasks = distinct.Count;
        if (automaton.IsDeadEnd(dfa.Start))
            throw GrammarException.Invalid("no token of this vocabulary can start a match");
        return automaton;
    }

    /// <summary>
    /// With every reachable state walked, drop the tokens that lead to states from which no token sequence reaches
    /// acceptance (possible when the vocabulary lacks some bytes), so sampling cannot wander into a dead end.
    /// </summary>
    private void PruneTokenDeadEnds(bool[] reachable, int[][] successors)
    {
        int n = _dfa.StateCount;
        var preds = new List<int>?[n];
        var live = new bool[n];
        var queue = new Queue<int>();
        for (int s = 0; s < n; s++)
        {
            if (!reachable[s]) continue;
            foreach (int t in successors[s]) (preds[t] ??= []).Add(s);
            if (_dfa.IsAccepting(s)) { live[s] = true; queue.Enqueue(s); }
        }
        while (queue.Count > 0)
            if (preds[queue.Dequeue()] is { } ps)
                foreach (int p in ps)
                    if (!live[p]) { live[p] = true; queue.Enqueue(p); }
        if (!live[_dfa.Start]) throw GrammarException.Invalid("no sequence of this vocabulary's tokens can complete a match");
        for (int s = 0; s < n; s++)
        {
            if (!reachable[s] || !live[s] || successors[s].All(t => live[t])) continue;
            var mask = new ulong[_words];
            Walk(0, s, mask, null, live);
            if (_dfa.IsAccepting(s))
                foreach (int e in _vocab.EndOfGenerationIds) mask[e >> 6] |= 1UL << (e & 63);
            _masks[s] = mask;
        }
    }

    /// <summary>Per-thread buffers for collecting the distinct states a walk reaches.</summary>
    private sealed class Scratch(int stateCount)
    {
        public readonly List<int> Successors = [];
        public readonly int[] Stamp = new int[stateCount];
        public int Generation;

        public void Begin()
        {
            Successors.Clear();
            Generation++;
        }
    }

    /// <summary>Trie walk from one DFA state. Publishes the mask; collects distinct successor states when asked.</summary>
    private ulong[] BuildMask(int state, Scratch? scratch)
    {
        var mask = new ulong[_words];
        Walk(0, state, mask, scratch, null);
        if (_dfa.IsAccepting(state))
            foreach (int e in _vocab.EndOfGenerationIds) mask[e >> 6] |= 1UL << (e & 63);
        // Racing builders produce identical masks, so whichever lands first is fine.
        return Interlocked.CompareExchange(ref _masks[state], mask, null) ?? mask;
    }

    // Recursion depth is the longest token (tens of bytes), and recursion keeps the lazy path allocation-free.
    // This loop is the whole cost of building the index (one step per trie node reachable from the state).
    private void Walk(int node, int state, ulong[] mask, Scratch? scratch, bool[]? live)
    {
        var v = _vocab;
        var table = _dfa.Table;
        var classOf = _dfa.ClassOf;
        int row = state * _dfa.ClassCount;
        int end = v.ChildStart[node + 1];
        for (int c = v.ChildStart[node]; c < end; c++)
        {
            int next = table[row + classOf[v.ChildByte[c]]];
            if (next < 0) continue;
            int child = v.ChildNode[c];
            int t0 = v.TokenStart[child], t1 = v.TokenStart[child + 1];
            if (t0 < t1 && (live is null || live[next]))
            {
                for (int i = t0; i < t1; i++)
                {
                    int token = v.NodeTokens[i];
                    mask[token >> 6] |= 1UL << (token & 63);
                }
                if (scratch is not null && scratch.Stamp[next] != scratch.Generation)
                {
                    scratch.Stamp[next] = scratch.Generation;
                    scratch.Successors.Add(next);
                }
            }
            if (v.ChildStart[child] != v.ChildStart[child + 1]) Walk(child, next, mask, scratch, live);
        }
    }

    private sealed class MaskComparer : IEqualityComparer<ulong[]>
    {
        public static readonly MaskComparer Instance = new();

        public bool Equals(ulong[]? x, ulong[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(ulong[] mask)
        {
            var h = new HashCode();
            h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(mask.AsSpan()));
            return h.ToHashCode();
        }
    }
}
