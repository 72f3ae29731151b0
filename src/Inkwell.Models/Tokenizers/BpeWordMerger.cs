namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Merges the symbols of one word, best pair first, with a priority queue so long words cost O(n log n).
/// Two rules: SentencePiece (merge the adjacent pair whose concatenation is the highest-scoring token) and
/// ranked BPE (merge the adjacent pair with the lowest merge rank). Ties go to the leftmost pair.
/// One instance per encode call: it reuses its arrays across the words of that call, and is not thread-safe.
/// </summary>
internal sealed class BpeWordMerger(Vocabulary vocab, BpeMergeTable? merges)
{
    private readonly record struct Candidate(int Left, int Right, int Length, int MergedId);

    private readonly PriorityQueue<Candidate, long> _queue = new();
    private int[] _start = new int[64];
    private int[] _length = new int[64];
    private int[] _prev = new int[64];
    private int[] _next = new int[64];
    private int[] _id = new int[64];

    /// <summary>The first symbol; follow <see cref="Next"/> until -1.</summary>
    public const int First = 0;
    public int Next(int symbol) => _next[symbol];
    public int Start(int symbol) => _start[symbol];
    public int Length(int symbol) => _length[symbol];
    /// <summary>The symbol's token id, or -1 when its text is not a token (byte fallback applies).</summary>
    public int Id(int symbol) => _id[symbol];

    /// <summary>Splits word into code points and merges them; word must not be empty.</summary>
    public void Merge(ReadOnlySpan<char> word, bool useScores, bool wholeWordIfToken)
    {
        if (wholeWordIfToken && vocab.TryGetId(word, out int wholeId))
        {
            EnsureCapacity(1);
            (_start[0], _length[0], _prev[0], _next[0], _id[0]) = (0, word.Length, -1, -1, wholeId);
            return;
        }

        EnsureCapacity(word.Length);
        int count = 0;
        for (int i = 0; i < word.Length; count++)
        {
            int n = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            _start[count] = i;
            _length[count] = n;
            _prev[count] = count - 1;
            _next[count] = count + 1;
            _id[count] = vocab.TryGetId(word.Slice(i, n), out int id) ? id : -1;
            i += n;
        }
        _next[count - 1] = -1;

        _queue.Clear();
        for (int i = 1; i < count; i++) TryQueuePair(word, i - 1, i, useScores);

        while (_queue.TryDequeue(out var pair, out _))
        {
            int left = pair.Left, right = pair.Right;
            // Stale: one side was merged away or has grown since this pair was queued.
            if (_length[left] == 0 || _length[right] == 0 || _length[left] + _length[right] != pair.Length) continue;

            _length[left] += _length[right];
            _length[right] = 0;
            _id[left] = pair.MergedId;
            _next[left] = _next[right];
            if (_next[right] >= 0) _prev[_next[right]] = left;

            TryQueuePair(word, _prev[left], left, useScores);
            TryQueuePair(word, left, _next[left], useScores);
        }
    }

    private void TryQueuePair(ReadOnlySpan<char> word, int left, int right, bool useScores)
    {
        if (left < 0 || right < 0) return;
        int length = _length[left] + _length[right];
        if (useScores)
        {
            if (vocab.TryGetId(word.Slice(_start[left], length), out int id))
            {
                _queue.Enqueue(new Candidate(left, right, length, id), Priority(SortableBits(-vocab.Scores[id]), left));
            }
        }
        else if (_id[left] >= 0 && _id[right] >= 0 && merges!.TryGet(_id[left], _id[right], out int rank, out int mergedId))
        {
            _queue.Enqueue(new Candidate(left, right, length, mergedId), Priority(rank, left));
        }
    }

    /// <summary>Cost first, then position: the smallest value is the best pair, ties going to the leftmost.</summary>
    private static long Priority(int cost, int left) => ((long)cost << 32) | (uint)left;

    /// <summary>Maps a float to an int with the same order (negative floats have their magnitude bits reversed).</summary>
    private static int SortableBits(float value)
    {
        if (value == 0) value = 0; // -0 and +0 are equal scores: let position break the tie
        int bits = BitConverter.SingleToInt32Bits(value);
        return bits >= 0 ? bits : bits ^ int.MaxValue;
    }

    private void EnsureCapacity(int n)
    {
        if (_start.Length >= n) return;
        int size = Math.Max(n, _start.Length * 2);
        _start = new int[size];
        _length = new int[size];
        _prev = new int[size];
        _next = new int[size];
        _id = new int[size];
    }
}
