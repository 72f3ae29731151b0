using System.Numerics;
using System.Runtime.InteropServices;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// A grammar lifted from bytes to one vocabulary's tokens. States are the byte DFA's states. Per state, a bitset
/// of the tokens that may come next (a token is allowed when all its bytes walk through the DFA; end-of-generation
/// tokens exactly in accepting states) and the distance to acceptance in tokens. Next walks the token's bytes through
/// the DFA: O(token length), no table. Build walks the vocabulary trie from every reachable state (shared prefixes
/// once, cut at the first rejected byte), so every mask exists before the first request uses it; equal masks are
/// shared. After that every call is O(1) or O(vocab/64) and allocation-free; the budgeted mask of
/// <see cref="ApplyMask(int, Span{float}, int)"/> adds one trie walk, only in the last steps of a tight budget.
/// </summary>
public sealed class TokenAutomaton
{
    private readonly ByteDfa _dfa;
    private readonly TokenVocabulary _vocab;
    private readonly ulong[][] _masks;
    private readonly int[] _distance;
    private readonly int[] _maxNextDistance;
    private readonly int _words;

    private TokenAutomaton(ByteDfa dfa, TokenVocabulary vocab)
    {
        _dfa = dfa;
        _vocab = vocab;
        _words = (vocab.Count + 63) >> 6;
        _masks = new ulong[dfa.StateCount][];
        _distance = new int[dfa.StateCount];
        _maxNextDistance = new int[dfa.StateCount];
    }

    public ByteDfa Dfa => _dfa;

    public int InitialState => _dfa.Start;

    public int StateCount => _dfa.StateCount;

    public int VocabularySize => _vocab.Count;

    /// <summary>How many distinct masks the states share.</summary>
    public int DistinctMasks { get; private set; }

    /// <summary>About how many bytes this automaton holds (masks, DFA table, per-state arrays): what a cache charges for it.</summary>
    public long MemoryBytes { get; private set; }

    public bool IsAccepting(int state) => _dfa.IsAccepting(state);

    /// <summary>
    /// The fewest tokens that take state to acceptance (0 when accepting; int.MaxValue for a state no token sequence
    /// completes, which no allowed token leads to). From the initial state: the shortest match, in tokens.
    /// </summary>
    public int DistanceToAccept(int state) => _distance[state];

    /// <summary>True when no token at all may follow: the vocabulary cannot spell any continuation here.</summary>
    public bool IsDeadEnd(int state) => AllowedMask(state).IndexOfAnyExcept(0UL) < 0;

    /// <summary>Bit t%64 of word t/64 is set when token t may come next. Length is ceil(vocab/64).</summary>
    public ReadOnlySpan<ulong> AllowedMask(int state) => _masks[state];

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

    /// <summary>
    /// As <see cref="ApplyMask(int, Span{float})"/>, for a sequence that may emit at most tokensLeft more tokens
    /// (this one included). When some allowed token would leave more distance to acceptance than the tokens after it,
    /// only tokens whose next state is within tokensLeft - 1 of acceptance stay allowed, so the output ends as a full
    /// match whenever tokensLeft covered the distance; given fewer than that, only the tokens that get closest stay.
    /// </summary>
    public void ApplyMask(int state, Span<float> logits, int tokensLeft)
    {
        ApplyMask(state, logits);
        int limit = tokensLeft - 1;
        if (limit >= _maxNextDistance[state]) return;
        var block = new BlockFartherVisitor(logits, _distance, Math.Max(limit, _distance[state] - 1));
        Walk(0, state, ref block);
    }

    /// <summary>Convenience: builds a vocabulary (trie) and the index. Reuse a <see cref="TokenVocabulary"/> when compiling many grammars.</summary>
    public static TokenAutomaton Build(ByteDfa dfa, IReadOnlyList<byte[]> tokenBytes, IEnumerable<int> endOfGenerationIds) =>
        Build(dfa, new TokenVocabulary(tokenBytes, endOfGenerationIds));

    /// <summary>Builds the index under the default limits. Throws if no token sequence can complete a match.</summary>
    public static TokenAutomaton Build(ByteDfa dfa, TokenVocabulary vocab, CancellationToken ct = default) =>
        Build(dfa, vocab, CompileBudget.For(null, ct));

    // States are walked in chunks, in parallel within a chunk, so equal masks are shared (and the rest freed) as we go.
    private const int ChunkStates = 64;

    internal static TokenAutomaton Build(ByteDfa dfa, TokenVocabulary vocab, CompileBudget budget)
    {
        ArgumentNullException.ThrowIfNull(dfa);
        ArgumentNullException.ThrowIfNull(vocab);
        var automaton = new TokenAutomaton(dfa, vocab);
        long maskBytes = automaton._words * 8L + 32;
        budget.Charge(dfa.StateCount * 24L + 4L * dfa.StateCount * dfa.ClassCount, "the token index");
        var seen = new bool[dfa.StateCount];
        var distinct = new Dictionary<ulong[], ulong[]>(MaskComparer.Instance);
        var successors = new int[dfa.StateCount][];
        var order = new List<int> { dfa.Start };
        seen[dfa.Start] = true;
        var options = new ParallelOptions { CancellationToken = budget.Token };
        // Scratch buffers are one int per state: reused across chunks rather than allocated per worker per chunk.
        var scratches = new System.Collections.Concurrent.ConcurrentBag<Scratch>();
        for (int done = 0; done < order.Count;)
        {
            int count = Math.Min(ChunkStates, order.Count - done);
            budget.Charge(count * maskBytes, "the token masks");
            var found = new int[count][];
            Parallel.For(0, count, options, () => scratches.TryTake(out var reused) ? reused : new Scratch(dfa.StateCount), (i, _, scratch) =>
            {
                scratch.Begin();
                automaton._masks[order[done + i]] = automaton.BuildMask(order[done + i], scratch);
                found[i] = [.. scratch.Successors];
                return scratch;
            }, scratches.Add);
            for (int i = 0; i < count; i++)
            {
                int s = order[done + i];
                successors[s] = found[i];
                budget.Charge(4L * found[i].Length + 24, "the token index");
                var mask = automaton._masks[s];
                if (distinct.TryGetValue(mask, out var shared)) { automaton._masks[s] = shared; budget.Charge(-maskBytes, "the token masks"); }
                else distinct.Add(mask, mask);
                foreach (int t in found[i])
                    if (!seen[t]) { seen[t] = true; order.Add(t); }
            }
            done += count;
        }
        int prunedMasks = automaton.ComputeDistances(order, successors, budget);
        automaton.DistinctMasks = distinct.Count;
        // What it keeps: the masks, the DFA table and the per-state arrays (the walk's successor lists are dropped).
        automaton.MemoryBytes = (distinct.Count + prunedMasks) * maskBytes + dfa.StateCount * (4L * dfa.ClassCount + 25) + 512;
        return automaton;
    }

    /// <summary>
    /// Distances by breadth-first search backwards from the accepting states over the token graph. Tokens into states
    /// that cannot reach acceptance (possible when the vocabulary lacks some bytes) are dropped from the masks, so
    /// sampling cannot wander into a dead end; per state, the largest distance an allowed token leads to is kept so
    /// the budgeted mask can tell in O(1) whether it must filter.
    /// </summary>
    /// <returns>How many states got a pruned mask of their own.</returns>
    private int ComputeDistances(List<int> reachable, int[][] successors, CompileBudget budget)
    {
        int n = _dfa.StateCount;
        Array.Fill(_distance, int.MaxValue);
        var preds = new List<int>?[n];
        var queue = new Queue<int>();
        foreach (int s in reachable)
        {
            foreach (int t in successors[s]) (preds[t] ??= []).Add(s);
            if (_dfa.IsAccepting(s)) { _distance[s] = 0; queue.Enqueue(s); }
        }
        while (queue.Count > 0)
        {
            int t = queue.Dequeue();
            if (preds[t] is not { } ps) continue;
            foreach (int p in ps)
                if (_distance[p] == int.MaxValue) { _distance[p] = _distance[t] + 1; queue.Enqueue(p); }
        }
        if (_distance[_dfa.Start] == int.MaxValue)
            throw GrammarException.Invalid("no sequence of this vocabulary's tokens can complete a match");
        var live = new bool[n];
        for (int s = 0; s < n; s++) live[s] = _distance[s] != int.MaxValue;
        int pruned = 0;
        foreach (int s in reachable)
        {
            int farthest = 0;
            bool allLive = true;
            foreach (int t in successors[s])
            {
                if (live[t]) farthest = Math.Max(farthest, _distance[t]);
                else allLive = false;
            }
            _maxNextDistance[s] = farthest;
            if (allLive || !live[s]) continue;
            budget.ThrowIfCancelled();
            budget.Charge(_words * 8L + 32, "the token masks");
            var mask = new ulong[_words];
            var visitor = new MaskVisitor(mask, null, live);
            Walk(0, s, ref visitor);
            AddEndTokens(s, mask);
            _masks[s] = mask;
            pruned++;
        }
        return pruned;
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

    /// <summary>Trie walk from one DFA state: its mask, and (into scratch) the distinct states its tokens lead to.</summary>
    private ulong[] BuildMask(int state, Scratch scratch)
    {
        var mask = new ulong[_words];
        var visitor = new MaskVisitor(mask, scratch, null);
        Walk(0, state, ref visitor);
        AddEndTokens(state, mask);
        return mask;
    }

    private void AddEndTokens(int state, ulong[] mask)
    {
        if (!_dfa.IsAccepting(state)) return;
        foreach (int e in _vocab.EndOfGenerationIds) mask[e >> 6] |= 1UL << (e & 63);
    }

    /// <summary>What a trie walk does at each trie node that ends tokens: told the DFA state those tokens lead to.</summary>
    private interface ITokenVisitor
    {
        void Visit(int next, ReadOnlySpan<int> tokens);
    }

    // Recursion depth is the longest token (tens of bytes), and recursion keeps the walks allocation-free.
    // This loop is the whole cost of building the index (one step per trie node reachable from the state), and of
    // each budgeted mask; the visitor is a struct so each use compiles to its own specialized loop.
    private void Walk<TVisitor>(int node, int state, ref TVisitor visitor) where TVisitor : ITokenVisitor, allows ref struct
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
            if (t0 < t1) visitor.Visit(next, v.NodeTokens.AsSpan(t0, t1 - t0));
            if (v.ChildStart[child] != v.ChildStart[child + 1]) Walk(child, next, ref visitor);
        }
    }

    /// <summary>Sets the mask bit of each token (leading to a live state, when live is given) and collects the distinct next states.</summary>
    private struct MaskVisitor(ulong[] mask, Scratch? scratch, bool[]? live) : ITokenVisitor
    {
        public readonly void Visit(int next, ReadOnlySpan<int> tokens)
        {
            if (live is not null && !live[next]) return;
            foreach (int token in tokens) mask[token >> 6] |= 1UL << (token & 63);
            if (scratch is not null && scratch.Stamp[next] != scratch.Generation)
            {
                scratch.Stamp[next] = scratch.Generation;
                scratch.Successors.Add(next);
            }
        }
    }

    /// <summary>Blocks each token whose next state is more than limit tokens from acceptance.</summary>
    private readonly ref struct BlockFartherVisitor(Span<float> logits, int[] distance, int limit) : ITokenVisitor
    {
        private readonly Span<float> _logits = logits;

        public void Visit(int next, ReadOnlySpan<int> tokens)
        {
            if (distance[next] <= limit) return;
            foreach (int token in tokens)
                if (token < _logits.Length) _logits[token] = float.NegativeInfinity;
        }
    }

    private sealed class MaskComparer : IEqualityComparer<ulong[]>
    {
        public static readonly MaskComparer Instance = new();

        public bool Equals(ulong[]? x, ulong[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(ulong[] mask)
        {
            var h = new HashCode();
            h.AddBytes(MemoryMarshal.AsBytes(mask.AsSpan()));
            return h.ToHashCode();
        }
    }
}
