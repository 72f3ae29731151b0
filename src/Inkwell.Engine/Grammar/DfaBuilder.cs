using System.Runtime.InteropServices;

namespace Inkwell.Engine.Grammar;

/// <summary>NFA to DFA: subset construction over byte classes, then dead-state pruning and Hopcroft minimization.</summary>
internal static class DfaBuilder
{
    public static ByteDfa Build(ByteNfa nfa, CompileBudget budget)
    {
        var (classOf, classCount) = ByteClasses(nfa);
        var (table, accepting) = Determinize(nfa, classOf, classCount, budget);
        (table, accepting) = PruneDead(table, accepting, classCount);
        (table, accepting) = Minimize(table, accepting, classCount, budget.Token);
        if (accepting.Length > budget.Limits.MaxDfaStates)
            throw GrammarException.TooLarge($"more than {budget.Limits.MaxDfaStates} DFA states after minimization");
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
        ByteNfa nfa, byte[] classOf, int classCount, CompileBudget budget)
    {
        int maxStates = budget.Limits.MaxSubsetStates;
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
            if (sets.Count >= maxStates)
                throw GrammarException.TooLarge($"more than {maxStates} DFA states before minimization");
            // The subset itself, its dictionary entry and its row of the table; minimization later needs a few times the table.
            budget.Charge(4L * set.Length + 64 + 24L * classCount, "the DFA");
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
            if ((d & 63) == 0) budget.ThrowIfCancelled();
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

    /// <summary>
    /// Hopcroft's partition refinement, O(n k log n): a long counted repeat (a chain of thousands of states) is
    /// where the simpler Moore rounds would go quadratic. A sink state n stands in for the missing transitions.
    /// </summary>
    private static (int[] Table, bool[] Accepting) Minimize(int[] table, bool[] accepting, int classCount, CancellationToken ct)
    {
        int n = accepting.Length;
        int total = n + 1, sink = n;
        int C = classCount;

        // Inverse transitions in CSR form: sources of (target, class) at invSrc[invStart[t*C+c] .. invStart[t*C+c+1]).
        var invStart = new int[total * C + 1];
        for (int s = 0; s < total; s++)
            for (int c = 0; c < C; c++) invStart[Target(s, c) * C + c + 1]++;
        for (int i = 0; i < total * C; i++) invStart[i + 1] += invStart[i];
        var fill = invStart[..^1].ToArray();
        var invSrc = new int[total * C];
        for (int s = 0; s < total; s++)
            for (int c = 0; c < C; c++) invSrc[fill[Target(s, c) * C + c]++] = s;

        int Target(int s, int c) => s == sink ? sink : table[s * C + c] is int t and >= 0 ? t : sink;

        // Blocks are contiguous runs of elems; marked elements of a block are kept at the front of its run.
        var elems = new int[total];
        var loc = new int[total];
        var blockOf = new int[total];
        var first = new List<int>();
        var end = new List<int>();
        var marked = new List<int>();
        int k = 0;
        foreach (bool acc in (ReadOnlySpan<bool>)[true, false])
        {
            int start = k;
            for (int s = 0; s < total; s++)
                if ((s != sink && accepting[s]) == acc) { elems[k] = s; loc[s] = k; blockOf[s] = first.Count; k++; }
            if (k > start) { first.Add(start); end.Add(k); marked.Add(0); }
        }
        var work = new Stack<int>();
        var inWork = new List<bool>();
        for (int b = 0; b < first.Count; b++) { work.Push(b); inWork.Add(true); }

        var splitter = new List<int>();
        var touched = new List<int>();
        int rounds = 0;
        while (work.Count > 0)
        {
            if ((++rounds & 255) == 0) ct.ThrowIfCancellationRequested();
            int a = work.Pop();
            inWork[a] = false;
            splitter.Clear();
            for (int i = first[a]; i < end[a]; i++) splitter.Add(elems[i]);
            for (int c = 0; c < C; c++)
            {
                touched.Clear();
                foreach (int q in splitter)
                {
                    for (int i = invStart[q * C + c]; i < invStart[q * C + c + 1]; i++)
                    {
                        int p = invSrc[i];
                        int b = blockOf[p];
                        int boundary = first[b] + marked[b];
                        if (loc[p] < boundary) continue; // already marked
                        // Swap p to the end of the marked prefix.
                        int other = elems[boundary];
                        elems[boundary] = p; elems[loc[p]] = other;
                        loc[other] = loc[p]; loc[p] = boundary;
                        if (marked[b]++ == 0) touched.Add(b);
                    }
                }
                foreach (int b in touched)
                {
                    int m = marked[b];
                    marked[b] = 0;
                    if (m == end[b] - first[b]) continue;
                    // The marked prefix becomes a new block.
                    int nb = first.Count;
                    first.Add(first[b]); end.Add(first[b] + m); marked.Add(0); inWork.Add(false);
                    first[b] += m;
                    for (int i = first[nb]; i < end[nb]; i++) blockOf[elems[i]] = nb;
                    if (inWork[b] || m <= end[b] - first[b]) { work.Push(nb); inWork[nb] = true; }
                    else { work.Push(b); inWork[b] = true; }
                }
            }
        }

        int blockCount = first.Count;
        if (blockCount == total) return (table, accepting);
        // Collapse each block onto one member, then renumber (keeps start at 0). The sink's block maps to -1.
        var rep = new int[blockCount];
        Array.Fill(rep, -1);
        for (int s = 0; s < n; s++) if (rep[blockOf[s]] < 0) rep[blockOf[s]] = s;
        rep[blockOf[sink]] = -1;
        var collapsed = new int[table.Length];
        for (int i = 0; i < table.Length; i++) collapsed[i] = table[i] < 0 ? -1 : rep[blockOf[table[i]]];
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
