using System.Runtime.InteropServices;

namespace Inkwell.Engine.Grammar;

/// <summary>NFA to DFA: subset construction over byte classes, then dead-state pruning and Moore minimization.</summary>
internal static class DfaBuilder
{
    public static ByteDfa Build(ByteNfa nfa, GrammarLimits limits, CancellationToken ct)
    {
        var (classOf, classCount) = ByteClasses(nfa);
        var (table, accepting) = Determinize(nfa, classOf, classCount, limits, ct);
        (table, accepting) = PruneDead(table, accepting, classCount);
        (table, accepting) = Minimize(table, accepting, classCount, ct);
        return new ByteDfa(classOf, classCount, table, accepting);
    }

    /// <summary>Bytes fall in the same class when no NFA edge boundary separates them.</summary>
    private static (byte[] ClassOf, int Count) ByteClasses(ByteNfa nfa)
    {
        var boundary = new bool[257];
        foreach (var edges in nfa.Edges)
        {
            if (edges is null) continue;
            foreach (var e in edges)
            {
                boundary[e.Lo] = true;
                boundary[e.Hi + 1] = true;
            }
        }
        var classOf = new byte[256];
        int cls = 0;
        for (int b = 0; b < 256; b++)
        {
            if (b > 0 && boundary[b]) cls++;
            classOf[b] = (byte)cls;
        }
        return (classOf, cls + 1);
    }

    private static (int[] Table, bool[] Accepting) Determinize(
        ByteNfa nfa, byte[] classOf, int classCount, GrammarLimits limits, CancellationToken ct)
    {
        int n = nfa.StateCount;
        var stamp = new int[n];
        int generation = 0;
        var stack = new Stack<int>();
        var members = new List<int>();

        // Closure keeps only states that matter (with byte edges, or the accept state): fewer distinct sets.
        int[] Closure(List<int> seeds)
        {
            generation++;
            members.Clear();
            foreach (int s in seeds)
            {
                if (stamp[s] == generation) continue;
                stamp[s] = generation;
                stack.Push(s);
            }
            while (stack.Count > 0)
            {
                int s = stack.Pop();
                if (nfa.Edges[s] is not null || s == nfa.Accept) members.Add(s);
                if (nfa.Eps[s] is { } eps)
                {
                    foreach (int t in eps)
                    {
                        if (stamp[t] == generation) continue;
                        stamp[t] = generation;
                        stack.Push(t);
                    }
                }
            }
            members.Sort();
            return [.. members];
        }

        var ids = new Dictionary<int[], int>(IntArrayComparer.Instance);
        var sets = new List<int[]>();
        var table = new List<int>();
        int Intern(int[] set)
        {
            if (ids.TryGetValue(set, out int id)) return id;
            if (sets.Count >= limits.MaxDfaStates)
                throw GrammarException.TooLarge($"more than {limits.MaxDfaStates} DFA states");
            id = sets.Count;
            ids.Add(set, id);
            sets.Add(set);
            return id;
        }

        Intern(Closure([nfa.Start]));
        var buckets = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) buckets[c] = [];
        for (int d = 0; d < sets.Count; d++)
        {
            if ((d & 63) == 0) ct.ThrowIfCancellationRequested();
            foreach (var b in buckets) b.Clear();
            foreach (int s in sets[d])
            {
                if (nfa.Edges[s] is not { } edges) continue;
                foreach (var e in edges)
                    for (int c = classOf[e.Lo]; c <= classOf[e.Hi]; c++) buckets[c].Add(e.To);
            }
            for (int c = 0; c < classCount; c++)
                table.Add(buckets[c].Count == 0 ? -1 : InternTarget(buckets[c]));
        }

        int InternTarget(List<int> seeds)
        {
            var set = Closure(seeds);
            return set.Length == 0 ? -1 : Intern(set);
        }

        var accepting = new bool[sets.Count];
        for (int d = 0; d < sets.Count; d++) accepting[d] = Array.BinarySearch(sets[d], nfa.Accept) >= 0;
        return ([.. table], accepting);
    }

    /// <summary>Drops states that cannot reach acceptance, then renumbers reachable states breadth-first from 0.</summary>
    private static (int[] Table, bool[] Accepting) PruneDead(int[] table, bool[] accepting, int classCount)
    {
        int n = accepting.Length;
        var preds = new List<int>[n];
        for (int s = 0; s < n; s++) preds[s] = [];
        for (int s = 0; s < n; s++)
            for (int c = 0; c < classCount; c++)
                if (table[s * classCount + c] is int t and >= 0) preds[t].Add(s);
        var live = new bool[n];
        var queue = new Queue<int>();
        for (int s = 0; s < n; s++) if (accepting[s]) { live[s] = true; queue.Enqueue(s); }
        while (queue.Count > 0)
            foreach (int p in preds[queue.Dequeue()])
                if (!live[p]) { live[p] = true; queue.Enqueue(p); }
        if (!live[0]) throw GrammarException.Invalid("it matches no string at all");
        for (int i = 0; i < table.Length; i++)
            if (table[i] >= 0 && !live[table[i]]) table[i] = -1;
        return Renumber(table, accepting, classCount);
    }

    /// <summary>Moore refinement: split blocks by (block, successor blocks) until nothing splits.</summary>
    private static (int[] Table, bool[] Accepting) Minimize(int[] table, bool[] accepting, int classCount, CancellationToken ct)
    {
        int n = accepting.Length;
        var block = new int[n];
        for (int s = 0; s < n; s++) block[s] = accepting[s] ? 1 : 0;
        int blockCount = accepting.Distinct().Count();
        var next = new int[n];
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var comparer = new SignatureComparer(table, block, classCount);
            var index = new Dictionary<int, int>(n, comparer);
            for (int s = 0; s < n; s++)
            {
                if (!index.TryGetValue(s, out int b)) { b = index.Count; index.Add(s, b); }
                next[s] = b;
            }
            (block, next) = (next, block);
            if (index.Count == blockCount) break;
            blockCount = index.Count;
        }
        if (blockCount == n) return (table, accepting);
        // Collapse each block onto its first member, then renumber (keeps start at 0).
        var rep = new int[blockCount];
        Array.Fill(rep, -1);
        for (int s = 0; s < n; s++) if (rep[block[s]] < 0) rep[block[s]] = s;
        var collapsed = new int[table.Length];
        for (int i = 0; i < table.Length; i++) collapsed[i] = table[i] < 0 ? -1 : rep[block[table[i]]];
        return Renumber(collapsed, accepting, classCount);
    }

    /// <summary>Keeps only states reachable from 0, numbered in BFS order (so the start stays 0).</summary>
    private static (int[] Table, bool[] Accepting) Renumber(int[] table, bool[] accepting, int classCount)
    {
        int n = accepting.Length;
        var newId = new int[n];
        Array.Fill(newId, -1);
        var order = new List<int> { 0 };
        newId[0] = 0;
        for (int k = 0; k < order.Count; k++)
        {
            int s = order[k];
            for (int c = 0; c < classCount; c++)
            {
                int t = table[s * classCount + c];
                if (t >= 0 && newId[t] < 0) { newId[t] = order.Count; order.Add(t); }
            }
        }
        var newTable = new int[order.Count * classCount];
        var newAccepting = new bool[order.Count];
        for (int k = 0; k < order.Count; k++)
        {
            int s = order[k];
            newAccepting[k] = accepting[s];
            for (int c = 0; c < classCount; c++)
            {
                int t = table[s * classCount + c];
                newTable[k * classCount + c] = t < 0 ? -1 : newId[t];
            }
        }
        return (newTable, newAccepting);
    }

    private sealed class SignatureComparer(int[] table, int[] block, int classCount) : IEqualityComparer<int>
    {
        public bool Equals(int a, int b)
        {
            if (block[a] != block[b]) return false;
            for (int c = 0; c < classCount; c++)
            {
                int ta = table[a * classCount + c], tb = table[b * classCount + c];
                if ((ta < 0 ? -1 : block[ta]) != (tb < 0 ? -1 : block[tb])) return false;
            }
            return true;
        }

        public int GetHashCode(int s)
        {
            var h = new HashCode();
            h.Add(block[s]);
            for (int c = 0; c < classCount; c++)
            {
                int t = table[s * classCount + c];
                h.Add(t < 0 ? -1 : block[t]);
            }
            return h.ToHashCode();
        }
    }

    internal sealed class IntArrayComparer : IEqualityComparer<int[]>
    {
        public static readonly IntArrayComparer Instance = new();

        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(int[] obj)
        {
            var h = new HashCode();
            h.AddBytes(MemoryMarshal.AsBytes(obj.AsSpan()));
            return h.ToHashCode();
        }
    }
}
