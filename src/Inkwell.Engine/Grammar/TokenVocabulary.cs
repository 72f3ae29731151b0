namespace Inkwell.Engine.Grammar;

/// <summary>
/// A model's tokens as raw byte strings, with the end-of-generation ids, arranged as a byte trie so the token
/// index walks shared prefixes once per grammar state. Build one per model and reuse it: its reference identity
/// is the vocabulary part of the grammar cache key. Tokens with no bytes (control tokens) are never emitted by
/// a grammar; end-of-generation tokens are emitted only where the grammar accepts.
/// </summary>
public sealed class TokenVocabulary
{
    // Trie in CSR form: node k's children are ChildByte/ChildNode[ChildStart[k] .. ChildStart[k+1]),
    // and the tokens spelled exactly by node k are NodeTokens[TokenStart[k] .. TokenStart[k+1]).
    internal readonly int[] ChildStart;
    internal readonly byte[] ChildByte;
    internal readonly int[] ChildNode;
    internal readonly int[] TokenStart;
    internal readonly int[] NodeTokens;
    internal readonly bool[] IsEndOfGeneration;

    private readonly byte[][] _bytes;

    public int Count { get; }

    /// <summary>The token's bytes (empty for control tokens and end-of-generation tokens).</summary>
    public ReadOnlySpan<byte> Bytes(int token) => _bytes[token];

    public IReadOnlyList<int> EndOfGenerationIds { get; }

    public int TrieNodeCount => ChildStart.Length - 1;

    public TokenVocabulary(IReadOnlyList<byte[]> tokenBytes, IEnumerable<int> endOfGenerationIds)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        Count = tokenBytes.Count;
        _bytes = new byte[Count][];
        IsEndOfGeneration = new bool[Count];
        var eos = new List<int>();
        foreach (int id in endOfGenerationIds)
        {
            if ((uint)id >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(endOfGenerationIds), $"token id {id} is outside the vocabulary of {Count}");
            if (!IsEndOfGeneration[id]) eos.Add(id);
            IsEndOfGeneration[id] = true;
        }
        eos.Sort();
        EndOfGenerationIds = eos;

        // Build with a (parent, byte) -> child map, then flatten with children sorted by byte.
        var edges = new Dictionary<(int Parent, byte B), int>();
        var parentOf = new List<int> { -1 };
        var byteOf = new List<byte> { 0 };
        var tokenNode = new int[Count];
        for (int id = 0; id < Count; id++)
        {
            var bytes = tokenBytes[id];
            if (IsEndOfGeneration[id] || bytes is null || bytes.Length == 0) { tokenNode[id] = -1; _bytes[id] = []; continue; }
            _bytes[id] = [.. bytes];
            int node = 0;
            foreach (byte b in bytes)
            {
                if (!edges.TryGetValue((node, b), out int child))
                {
                    child = parentOf.Count;
                    parentOf.Add(node);
                    byteOf.Add(b);
                    edges.Add((node, b), child);
                }
                node = child;
            }
            tokenNode[id] = node;
        }

        int nodes = parentOf.Count;
        ChildStart = new int[nodes + 1];
        for (int k = 1; k < nodes; k++) ChildStart[parentOf[k] + 1]++;
        for (int k = 0; k < nodes; k++) ChildStart[k + 1] += ChildStart[k];
        var fill = ChildStart[..^1].ToArray();
        ChildByte = new byte[nodes - 1];
        ChildNode = new int[nodes - 1];
        for (int k = 1; k < nodes; k++)
        {
            int slot = fill[parentOf[k]]++;
            ChildByte[slot] = byteOf[k];
            ChildNode[slot] = k;
        }
        for (int k = 0; k < nodes; k++)
            Array.Sort(ChildByte, ChildNode, ChildStart[k], ChildStart[k + 1] - ChildStart[k]);

        TokenStart = new int[nodes + 1];
        foreach (int node in tokenNode) if (node >= 0) TokenStart[node + 1]++;
        for (int k = 0; k < nodes; k++) TokenStart[k + 1] += TokenStart[k];
        NodeTokens = new int[TokenStart[nodes]];
        var tfill = TokenStart[..^1].ToArray();
        for (int id = 0; id < Count; id++) if (tokenNode[id] >= 0) NodeTokens[tfill[tokenNode[id]]++] = id;
    }
}
