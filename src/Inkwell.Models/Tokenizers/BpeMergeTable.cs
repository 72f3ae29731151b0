namespace Inkwell.Models.Tokenizers;

/// <summary>Merge ranks keyed by the (left, right) token-id pair, each with the id of the merged token.</summary>
internal sealed class BpeMergeTable
{
    private readonly Dictionary<long, (int Rank, int MergedId)> _pairs;

    private BpeMergeTable(Dictionary<long, (int Rank, int MergedId)> pairs) => _pairs = pairs;

    public int Count => _pairs.Count;

    public bool TryGet(int leftId, int rightId, out int rank, out int mergedId)
    {
        if (_pairs.TryGetValue(Key(leftId, rightId), out var entry))
        {
            (rank, mergedId) = entry;
            return true;
        }
        rank = mergedId = -1;
        return false;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// Builds the table from merges in rank order (first = highest priority), each "left right" split at the first
    /// space after the first character (llama.cpp's rule, so a left piece may itself be a space). A merge whose parts or
    /// result are not in the vocabulary can never apply and is skipped; a repeated pair keeps its first rank.
    /// </summary>
    public static BpeMergeTable FromLines(Vocabulary vocab, IReadOnlyList<string> lines, out int skipped)
    {
        var pairs = new Dictionary<long, (int, int)>(lines.Count);
        skipped = 0;
        for (int rank = 0; rank < lines.Count; rank++)
        {
            string line = lines[rank];
            int space = line.Length > 1 ? line.IndexOf(' ', 1) : -1;
            if (space < 0 || !TryAdd(vocab, pairs, rank, line.AsSpan(0, space), line.AsSpan(space + 1))) skipped++;
        }
        return new BpeMergeTable(pairs);
    }

    /// <summary>As <see cref="FromLines"/> for merges already split into their two parts.</summary>
    public static BpeMergeTable FromPairs(Vocabulary vocab, IReadOnlyList<(string Left, string Right)> merges, out int skipped)
    {
        var pairs = new Dictionary<long, (int, int)>(merges.Count);
        skipped = 0;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            if (!TryAdd(vocab, pairs, rank, merges[rank].Left, merges[rank].Right)) skipped++;
        }
        return new BpeMergeTable(pairs);
    }

    private static bool TryAdd(Vocabulary vocab, Dictionary<long, (int, int)> pairs, int rank, ReadOnlySpan<char> left, ReadOnlySpan<char> right)
    {
        if (!vocab.TryGetId(left, out int leftId) || !vocab.TryGetId(right, out int rightId)) return false;
        int length = left.Length + right.Length;
        Span<char> joined = length <= 256 ? stackalloc char[length] : new char[length];
        left.CopyTo(joined);
        right.CopyTo(joined[left.Length..]);
        if (!vocab.TryGetId(joined, out int mergedId)) return false;
        pairs.TryAdd(Key(leftId, rightId), (rank, mergedId));
        return true;
    }
}
