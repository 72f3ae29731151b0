namespace Inkwell.Models.Tokenizers;

/// <summary>
/// The token pieces, their kinds and scores, and a piece-to-id map that can be queried with spans
/// (so merge loops look up substrings without allocating).
/// </summary>
internal sealed class Vocabulary
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int[] _byteTokenIds;

    public string[] Pieces { get; }
    public TokenKind[] Kinds { get; }
    /// <summary>SentencePiece scores (higher merges first); empty when the model ranks merges instead.</summary>
    public float[] Scores { get; }
    public int Count => Pieces.Length;

    public Vocabulary(string[] pieces, TokenKind[] kinds, float[]? scores)
    {
        if (kinds.Length != pieces.Length) throw new ArgumentException("one kind per piece is required", nameof(kinds));
        Pieces = pieces;
        Kinds = kinds;
        Scores = scores ?? [];
        var ids = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        // Later duplicates win, as in llama.cpp's token_to_id.
        for (int i = 0; i < pieces.Length; i++) ids[pieces[i]] = i;
        _lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();

        _byteTokenIds = new int[256];
        Array.Fill(_byteTokenIds, -1);
        for (int i = 0; i < pieces.Length; i++)
        {
            if (kinds[i] == TokenKind.Byte && TryParseByteToken(pieces[i], out byte b) && _byteTokenIds[b] < 0) _byteTokenIds[b] = i;
        }
    }

    public bool TryGetId(ReadOnlySpan<char> piece, out int id) => _lookup.TryGetValue(piece, out id);

    /// <summary>The &lt;0xAB&gt; token for a byte, or -1.</summary>
    public int ByteTokenId(byte value) => _byteTokenIds[value];

    public bool IsValidId(int id) => (uint)id < (uint)Pieces.Length;

    /// <summary>Parses "&lt;0xAB&gt;" (exactly six characters, two hex digits).</summary>
    public static bool TryParseByteToken(string piece, out byte value)
    {
        value = 0;
        if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>') return false;
        return byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }
}
