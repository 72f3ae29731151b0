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
    /// Builds the table from merges in rank order (first = highest priority). A merge whose parts or result are
    /// not in the vocabulary can never apply and is skipped; a repeated pair keeps its first rank.
    /// </summary>
    public static BpeMergeTable Build(Vocabulary vocab, int count, Func<int, (string Left, string Right)?> mergeAt, out int skipped)
    {
        var pairs = new Dictionary<long, (int, int)>(count);
        skipped = 0;
        Span<char> joined = stackalloc char[256];
        for (int rank = 0; rank < count; rank++)
        {
            var merge = mergeAt(rank);
            if (merge is not var (left, right)
                || !vocab.TryGetId(left, out int leftId)
                || !vocab.TryGetId(right, out int rightId))
            {
                skipped++;
                continue;
            }
            int length = left.Length + right.Length;
            Span<char> buffer = length <= joined.Length ? joined[..length] : new char[length];
            left.CopyTo(buffer);
            right.CopyTo(buffer[left.Length..]);
            if (!vocab.TryGetId(buffer, out int mergedId))
            {
                skipped++;
                continue;
            }
            pairs.TryAdd(Key(leftId, rightId), (rank, mergedId));
        }
        return new BpeMergeTable(pairs);
    }

    /// <summary>Splits "left right" at the first space after the first character (llama.cpp's rule, so a piece may start with a space).</summary>
    public static (string Left, string Right)? SplitMergeLine(string line)
    {
        int space = line.Length > 1 ? line.IndexOf(' ', 1) : -1;
        return space < 0 ? null : (line[..space], line[(space + 1)..]);
    }
}
