using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>How a vocabulary's pieces turn back into bytes.</summary>
internal enum PieceDecoding
{
    /// <summary>SentencePiece: '▁' is a space, &lt;0xAB&gt; byte tokens are that byte.</summary>
    SpaceMarker,
    /// <summary>GPT-2 byte-level: each piece character stands for one byte.</summary>
    ByteLevel,
    /// <summary>RWKV: every piece is an escaped byte string (\t \n \r \xHH).</summary>
    RwkvEscaped,
}

/// <summary>The exact bytes each token contributes to decoded text, precomputed into one array.</summary>
internal sealed class TokenBytesTable
{
    public const char SpaceMarker = '\u2581';
    private readonly byte[] _bytes;
    private readonly int[] _offsets;

    public TokenBytesTable(Vocabulary vocab, PieceDecoding decoding)
    {
        var all = new List<byte>(vocab.Count * 6);
        _offsets = new int[vocab.Count + 1];
        Span<byte> utf8 = stackalloc byte[4];
        for (int id = 0; id < vocab.Count; id++)
        {
            _offsets[id] = all.Count;
            string piece = vocab.Pieces[id];
            if (decoding == PieceDecoding.RwkvEscaped)
            {
                all.AddRange(RwkvTokenizer.Unescape(piece));
                continue;
            }
            switch (vocab.Kinds[id])
            {
                case TokenKind.Byte when Vocabulary.TryParseByteToken(piece, out byte b):
                    all.Add(b);
                    break;
                case TokenKind.Control or TokenKind.Unknown or TokenKind.UserDefined or TokenKind.Byte:
                    all.AddRange(Encoding.UTF8.GetBytes(piece));
                    break;
                case TokenKind.Unused:
                    break; // llama.cpp renders unused tokens as nothing
                default:
                    foreach (var rune in piece.EnumerateRunes())
                    {
                        int value = decoding == PieceDecoding.ByteLevel && rune.IsBmp ? ByteLevelEncoding.Decode((char)rune.Value) : -1;
                        if (value >= 0) all.Add((byte)value);
                        else if (decoding == PieceDecoding.SpaceMarker && rune.Value == SpaceMarker) all.Add((byte)' ');
                        else all.AddRange(utf8[..rune.EncodeToUtf8(utf8)]);
                    }
                    break;
            }
        }
        _offsets[vocab.Count] = all.Count;
        _bytes = all.ToArray();
    }

    public ReadOnlySpan<byte> this[int id] => _bytes.AsSpan(_offsets[id], _offsets[id + 1] - _offsets[id]);
}
