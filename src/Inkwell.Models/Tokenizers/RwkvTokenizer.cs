using System.Buffers;
using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// RWKV's "world" tokenizer as llama.cpp runs it (tokenizer.ggml.model "rwkv"): pieces are byte strings written with
/// escapes (\t \n \r \xHH, \ before any other character), and text is cut greedily into the longest piece that matches
/// its UTF-8 bytes, left to right, through a byte trie.
/// </summary>
internal sealed class RwkvTokenizer : Tokenizer
{
    private readonly Dictionary<long, int> _children = []; // (node << 8 | byte) -> child node
    private readonly List<int> _tokenAt = [-1];           // node -> token id ending there, or -1

    public RwkvTokenizer(Vocabulary vocabulary, TokenizerSettings settings)
        : base(vocabulary, settings, PieceDecoding.RwkvEscaped)
    {
        for (int id = 0; id < vocabulary.Count; id++)
        {
            int node = 0;
            foreach (byte b in Unescape(vocabulary.Pieces[id]))
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
            if (node != 0) _tokenAt[node] = id; // a later duplicate wins, as in llama.cpp's trie
        }
    }

    /// <summary>The bytes an escaped RWKV piece stands for (llama_unescape_rwkv_token).</summary>
    public static byte[] Unescape(string escaped)
    {
        var bytes = new List<byte>(escaped.Length);
        byte[] utf8 = Encoding.UTF8.GetBytes(escaped);
        for (int i = 0; i < utf8.Length; i++)
        {
            byte c = utf8[i];
            if (c != (byte)'\\' || i + 1 >= utf8.Length)
            {
                bytes.Add(c);
                continue;
            }
            byte e = utf8[++i];
            if (e == (byte)'x' && i + 2 < utf8.Length)
            {
                bytes.Add((byte)((HexValue(utf8[i + 1]) << 4) | HexValue(utf8[i + 2])));
                i += 2;
            }
            else bytes.Add(e switch { (byte)'t' => (byte)'\t', (byte)'n' => (byte)'\n', (byte)'r' => (byte)'\r', _ => e });
        }
        return bytes.ToArray();
    }

    // llama.cpp's reading: lowercase letters from 'a', everything else from '0'.
    private static int HexValue(byte c) => c >= (byte)'a' ? c - 'a' + 10 : c - '0';

    private protected override ITextEncoder CreateTextEncoder() => new Session(this);

    private sealed class Session(RwkvTokenizer owner) : ITextEncoder
    {
        public void Encode(string text, int start, int end, EncodeSink sink)
        {
            ReadOnlySpan<char> fragment = text.AsSpan(start, end - start);
            int length = Encoding.UTF8.GetByteCount(fragment);
            byte[] bytes = ArrayPool<byte>.Shared.Rent(length);
            int[] charOf = ArrayPool<int>.Shared.Rent(length + 1); // input index of the character each byte belongs to
            try
            {
                int n = 0;
                for (int i = 0; i < fragment.Length;)
                {
                    if (Rune.DecodeFromUtf16(fragment[i..], out Rune rune, out int used) != OperationStatus.Done) rune = Rune.ReplacementChar;
                    int written = rune.EncodeToUtf8(bytes.AsSpan(n));
                    for (int k = 0; k < written; k++) charOf[n + k] = start + i;
                    n += written;
                    i += used;
                }
                charOf[n] = end;
                for (int pos = 0; pos < n;)
                {
                    int node = 0, bestId = -1, bestEnd = pos;
                    for (int p = pos; p < n && owner._children.TryGetValue(((long)node << 8) | bytes[p], out node); p++)
                    {
                        if (owner._tokenAt[node] >= 0) (bestId, bestEnd) = (owner._tokenAt[node], p + 1);
                    }
                    if (bestId < 0)
                    {
                        // No piece starts with this byte: the unknown token where there is one (llama.cpp's rule).
                        if (owner.UnkId is int unk) sink.Add(unk, charOf[pos], charOf[pos + 1]);
                        pos++;
                        continue;
                    }
                    sink.Add(bestId, charOf[pos], bestEnd < n ? charOf[bestEnd] : end);
                    pos = bestEnd;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(bytes);
                ArrayPool<int>.Shared.Return(charOf);
            }
        }
    }
}
