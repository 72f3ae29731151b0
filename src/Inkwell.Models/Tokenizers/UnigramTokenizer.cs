using System.Buffers.Binary;
using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// SentencePiece's Unigram model as llama.cpp runs it (tokenizer.ggml.model "t5", llama.cpp's UGM): the text is
/// normalized (the precompiled character map when the file has one, spaces escaped to '▁', an optional space in front,
/// optionally runs of spaces merged), then the highest-scoring segmentation into pieces is found by Viterbi over its
/// UTF-8 bytes; a code point no piece covers becomes the unknown token (consecutive ones merged into one).
/// </summary>
internal sealed class UnigramTokenizer : Tokenizer
{
    private const double UnknownPenalty = 10.0;
    private readonly Dictionary<long, int> _children = []; // byte trie: (node << 8 | byte) -> child
    private readonly List<int> _tokenAt = [-1];
    private readonly double _unknownScore;
    private readonly uint[] _charsmapNodes;
    private readonly byte[] _charsmapStrings;
    private readonly bool _removeExtraWhitespace;

    public UnigramTokenizer(Vocabulary vocabulary, TokenizerSettings settings, byte[]? precompiledCharsmap, bool removeExtraWhitespace)
        : base(vocabulary, settings, PieceDecoding.SpaceMarker)
    {
        _removeExtraWhitespace = removeExtraWhitespace;
        float min = float.MaxValue;
        for (int id = 0; id < vocabulary.Count; id++)
        {
            var kind = vocabulary.Kinds[id];
            if (kind == TokenKind.Normal) min = Math.Min(min, vocabulary.Scores[id]);
            if (kind is not (TokenKind.Normal or TokenKind.UserDefined or TokenKind.Unused)) continue;
            int node = 0;
            foreach (byte b in Encoding.UTF8.GetBytes(vocabulary.Pieces[id]))
            {
                long key = ((long)node << 8) | b;
                if (!_children.TryGetValue(key, out int child))
                {
                    child = _tokenAt.Count;
                    _tokenAt.Add(-1);
                    _children[key] = child;
                }
                node = child;
            }
            _tokenAt[node] = id;
        }
        _unknownScore = min - UnknownPenalty;

        // The charsmap: a 4-byte size, that many bytes of XOR-compressed double array, then NUL-terminated replacements.
        if (precompiledCharsmap is { Length: > 0 } map)
        {
            if (map.Length < 4) throw new InvalidDataException("precompiled_charsmap is shorter than its size header");
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(map);
            if (size + 4L >= map.Length) throw new InvalidDataException("precompiled_charsmap's size header exceeds the map");
            _charsmapNodes = new uint[size / 4];
            for (int i = 0; i < _charsmapNodes.Length; i++) _charsmapNodes[i] = BinaryPrimitives.ReadUInt32LittleEndian(map.AsSpan(4 + i * 4));
            _charsmapStrings = map[(int)(4 + size)..];
        }
        else
        {
            _charsmapNodes = [];
            _charsmapStrings = [];
        }
    }

    private protected override ITextEncoder CreateTextEncoder() => new Session(this);

    private sealed class Session(UnigramTokenizer owner) : ITextEncoder
    {
        private readonly List<byte> _normalized = [];
        private readonly List<int> _source = []; // input index of each normalized byte

        public void Encode(string text, int start, int end, EncodeSink sink)
        {
            owner.Normalize(text, start, end, _normalized, _source);
            int n = _normalized.Count;
            if (n == 0) return;
            var bytes = _normalized.ToArray();
            var best = new (int Id, int From, double Score)[n + 1];
            Array.Fill(best, (owner.UnkId ?? -1, 0, double.MinValue));
            best[0] = (owner.UnkId ?? -1, 0, 0);
            for (int offset = 0; offset < n;)
            {
                int charLength = Math.Min(Utf8Length(bytes[offset]), n - offset);
                bool wholeCodePoint = false;
                double baseScore = best[offset].Score;
                int node = 0;
                for (int p = offset; p < n && owner._children.TryGetValue(((long)node << 8) | bytes[p], out node); p++)
                {
                    int id = owner._tokenAt[node];
                    if (id < 0) continue;
                    if (p + 1 - offset == charLength) wholeCodePoint = true;
                    double score = baseScore + (owner.Vocabulary.Kinds[id] == TokenKind.UserDefined ? 0.0 : owner.Vocabulary.Scores[id]);
                    if (score > best[p + 1].Score) best[p + 1] = (id, offset, score);
                }
                if (!wholeCodePoint)
                {
                    double score = baseScore + owner._unknownScore;
                    if (score > best[offset + charLength].Score) best[offset + charLength] = (owner.UnkId ?? -1, offset, score);
                }
                offset += charLength;
            }

            var pieces = new List<(int Id, int From, int To)>();
            bool previousUnknown = false;
            for (int at = n; ;)
            {
                var (id, from, _) = best[at];
                bool unknown = id == owner.UnkId || id < 0;
                if (previousUnknown && unknown) pieces[^1] = (pieces[^1].Id, from, pieces[^1].To);
                else pieces.Add((id, from, at));
                previousUnknown = unknown;
                if (from == 0) break;
                at = from;
            }
            for (int i = pieces.Count - 1; i >= 0; i--)
            {
                var (id, from, to) = pieces[i];
                if (id < 0) continue; // no unknown token in this vocabulary
                sink.Add(id, _source[from], to < n ? _source[to] : end);
            }
        }
    }

    private static int Utf8Length(byte first) => (first >> 4) switch { 12 or 13 => 2, 14 => 3, 15 => 4, _ => 1 };

    /// <summary>llama.cpp's llm_tokenizer_ugm_session::normalize for text[start..end), with each byte's input index.</summary>
    private void Normalize(string text, int start, int end, List<byte> output, List<int> source)
    {
        output.Clear();
        source.Clear();
        ReadOnlySpan<byte> space = [0xE2, 0x96, 0x81]; // '▁': escape_whitespaces is always on for UGM in llama.cpp
        bool prependSpace = AddSpacePrefix, spacePrepended = false, inWord = false;
        byte[] input = Encoding.UTF8.GetBytes(text[start..end]);
        int[] charOf = new int[input.Length + 1];
        for (int i = 0, b = 0; i < end - start;)
        {
            int used = char.IsHighSurrogate(text[start + i]) && i + 1 < end - start ? 2 : 1;
            int count = Encoding.UTF8.GetByteCount(text.AsSpan(start + i, used));
            for (int k = 0; k < count; k++) charOf[b + k] = start + i;
            b += count;
            i += used;
        }
        charOf[input.Length] = end;

        for (int offset = 0; offset < input.Length;)
        {
            var (replacement, consumed) = NormalizePrefix(input, offset);
            foreach (byte c in replacement)
            {
                if (c != (byte)' ')
                {
                    if (!inWord)
                    {
                        inWord = true;
                        if ((prependSpace && !spacePrepended) || _removeExtraWhitespace)
                        {
                            foreach (byte s in space)
                            {
                                output.Add(s);
                                source.Add(charOf[offset]);
                            }
                            spacePrepended = true;
                        }
                    }
                    output.Add(c);
                    source.Add(charOf[offset]);
                }
                else
                {
                    inWord = false;
                    if (_removeExtraWhitespace) continue;
                    foreach (byte s in space)
                    {
                        output.Add(s);
                        source.Add(charOf[offset]);
                    }
                }
            }
            offset += consumed;
        }
    }

    /// <summary>The longest charsmap match at input[offset..] and its replacement, else the next UTF-8 character unchanged.</summary>
    private (byte[] Replacement, int Consumed) NormalizePrefix(byte[] input, int offset)
    {
        int longest = 0, replacementAt = 0;
        if (_charsmapNodes.Length > 0)
        {
            uint node = Base(0);
            for (int p = offset; p < input.Length && input[p] != 0; p++)
            {
                byte c = input[p];
                node ^= c;
                if (LCheck(node) != c) break;
                bool leaf = Leaf(node);
                node ^= Base(node);
                if (leaf)
                {
                    longest = p - offset + 1;
                    replacementAt = (int)Value(node);
                }
            }
        }
        if (longest > 0)
        {
            if (replacementAt >= _charsmapStrings.Length) throw new InvalidDataException("precompiled_charsmap replacement index is outside the map");
            int stop = Array.IndexOf(_charsmapStrings, (byte)0, replacementAt);
            if (stop < 0) throw new InvalidDataException("precompiled_charsmap holds an unterminated replacement");
            return (_charsmapStrings[replacementAt..stop], longest);
        }
        int length = Math.Min(Utf8Length(input[offset]), input.Length - offset);
        return (input[offset..(offset + length)], length);
    }

    private uint Node(uint index) => index < _charsmapNodes.Length
        ? _charsmapNodes[index]
        : throw new InvalidDataException("precompiled_charsmap index is outside its array");

    private uint Base(uint index)
    {
        uint packed = Node(index);
        return (packed >> 10) << (int)((packed & (1u << 9)) >> 6);
    }

    private uint LCheck(uint index) => Node(index) & ((1u << 31) | 0xFF);
    private bool Leaf(uint index) => ((Node(index) >> 8) & 1) != 0;
    private uint Value(uint index) => Node(index) & ((1u << 31) - 1);
}
