namespace Inkwell.Engine.Grammar;

/// <summary>
/// Thompson NFA over UTF-8 bytes. Build(node, from) adds the node's automaton hanging off state 'from' and
/// returns the state where it ends, so fragments chain without extra epsilon states.
/// </summary>
internal sealed class ByteNfa
{
    internal readonly record struct Edge(byte Lo, byte Hi, int To);

    // What a state costs: two list slots here plus the lists themselves (an edge or two each, usually).
    private const int BytesPerState = 96;

    private readonly CompileBudget _budget;

    internal readonly List<List<int>?> Eps = [];
    internal readonly List<List<Edge>?> Edges = [];

    public int Start { get; }
    public int Accept { get; private set; }
    public int StateCount => Eps.Count;

    private ByteNfa(CompileBudget budget)
    {
        _budget = budget;
        Start = NewState();
    }

    public static ByteNfa FromRegex(RegexNode root, CompileBudget budget)
    {
        var nfa = new ByteNfa(budget);
        nfa.Accept = nfa.Build(root, nfa.Start);
        return nfa;
    }

    private int NewState()
    {
        int max = _budget.Limits.MaxNfaStates;
        if (Eps.Count >= max)
            throw GrammarException.TooLarge($"more than {max} NFA states (large repeat counts or nesting)");
        if ((Eps.Count & 4095) == 0)
        {
            _budget.ThrowIfCancelled();
            _budget.Charge(4096L * BytesPerState, "the NFA");
        }
        Eps.Add(null);
        Edges.Add(null);
        return Eps.Count - 1;
    }

    private void AddEps(int from, int to) => (Eps[from] ??= []).Add(to);

    private void AddEdge(int from, byte lo, byte hi, int to) => (Edges[from] ??= []).Add(new Edge(lo, hi, to));

    private int Build(RegexNode node, int from)
    {
        switch (node)
        {
            case SetNode set:
            {
                int end = NewState();
                var seqs = new List<Utf8Sequences.ByteRange[]>();
                foreach (var (lo, hi) in set.Set.Ranges) Utf8Sequences.Split(lo, hi, seqs);
                // Sequences share their tails (e.g. every 3-byte form ends in [80-BF][80-BF]), so a long
                // repeat of a Unicode class keeps a handful of states per position rather than dozens.
                var tails = new Dictionary<string, int>();
                foreach (var seq in seqs)
                {
                    int target = end;
                    for (int k = seq.Length - 1; k >= 1; k--)
                    {
                        string key = string.Concat(seq[k..].Select(r => $"{r.Lo:X2}{r.Hi:X2}"));
                        if (!tails.TryGetValue(key, out int state))
                        {
                            state = NewState();
                            AddEdge(state, seq[k].Lo, seq[k].Hi, target);
                            tails.Add(key, state);
                        }
                        target = state;
                    }
                    AddEdge(from, seq[0].Lo, seq[0].Hi, target);
                }
                return end;
            }
            case ConcatNode concat:
            {
                int cur = from;
                foreach (var item in concat.Items) cur = Build(item, cur);
                return cur;
            }
            case AltNode alt:
            {
                int end = NewState();
                foreach (var item in alt.Items)
                {
                    // A fresh entry per branch keeps one branch's loop from leaking into another.
                    int entry = NewState();
                    AddEps(from, entry);
                    AddEps(Build(item, entry), end);
                }
                return end;
            }
            case RepeatNode rep:
            {
                int cur = from;
                for (int k = 0; k < rep.Min; k++) cur = Fresh(rep.Item, cur);
                if (rep.Max < 0)
                {
                    int loop = NewState();
                    AddEps(cur, loop);
                    AddEps(Build(rep.Item, loop), loop);
                    return loop;
                }
                if (rep.Max == rep.Min) return cur;
                int exit = NewState();
                for (int k = rep.Min; k < rep.Max; k++)
                {
                    AddEps(cur, exit);
                    cur = Fresh(rep.Item, cur);
                }
                AddEps(cur, exit);
                return exit;
            }
            default:
                throw new InvalidOperationException("unknown regex node " + node.GetType().Name);
        }
    }

    /// <summary>Builds from a fresh entry state: 'from' may be a loop state, and an item's own loop must not share it.</summary>
    private int Fresh(RegexNode item, int from)
    {
        int entry = NewState();
        AddEps(from, entry);
        return Build(item, entry);
    }
}
