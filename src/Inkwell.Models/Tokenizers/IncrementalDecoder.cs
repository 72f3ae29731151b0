using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Turns a stream of token ids into text, one id at a time, returning only whole UTF-8 characters: bytes of a
/// character split across tokens (byte-fallback or byte-level pieces) are held until the character completes.
/// The concatenation of everything returned by <see cref="Append"/> and then <see cref="Flush"/> equals
/// <see cref="Tokenizer.Decode(ReadOnlySpan{int}, bool)"/> of the same ids. Not thread-safe; one per sequence.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private byte[] _pending = new byte[32];
    private int _pendingCount;
    private int _previousId;
    private bool _atStart;
    private bool _emittedAny;

    internal IncrementalDecoder(Tokenizer tokenizer, bool skipSpecialTokens, int? previousId)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _atStart = previousId is null;
        _previousId = previousId ?? -1;
    }

    /// <summary>Feeds one token; returns the text that became complete (often empty, never a partial character).</summary>
    public string Append(int id)
    {
        bool mayDropSpace = !_emittedAny && (_atStart || (_previousId == _tokenizer.BosId && _previousId >= 0));
        var piece = _tokenizer.PieceForDecode(id, _skipSpecialTokens, mayDropSpace);
        _atStart = false;
        _previousId = id;
        _emittedAny |= !piece.IsEmpty;
        if (piece.IsEmpty && _pendingCount == 0) return string.Empty;

        if (_pendingCount + piece.Length > _pending.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingCount + piece.Length));
        piece.CopyTo(_pending.AsSpan(_pendingCount));
        _pendingCount += piece.Length;

        int complete = CompletePrefixLength(_pending.AsSpan(0, _pendingCount));
        if (complete == 0) return string.Empty;
        string text = Encoding.UTF8.GetString(_pending, 0, complete);
        _pending.AsSpan(complete, _pendingCount - complete).CopyTo(_pending);
        _pendingCount -= complete;
        return text;
    }

    /// <summary>Ends the stream: any held bytes of an unfinished character come out as U+FFFD.</summary>
    public string Flush()
    {
        if (_pendingCount == 0) return string.Empty;
        string text = Encoding.UTF8.GetString(_pending, 0, _pendingCount);
        _pendingCount = 0;
        return text;
    }

    /// <summary>True while bytes of an unfinished character are held back.</summary>
    public bool HasPendingBytes => _pendingCount > 0;

    /// <summary>
    /// Length of the longest prefix that does not end inside a multi-byte sequence that could still complete.
    /// Invalid bytes count as complete (they decode to U+FFFD rather than being held forever).
    /// </summary>
    internal static int CompletePrefixLength(ReadOnlySpan<byte> bytes)
    {
        for (int back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            byte b = bytes[^back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead byte
            int needed = b switch
            {
                >= 0xC2 and <= 0xDF => 2,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 1,
            };
            return needed > back ? bytes.Length - back : bytes.Length;
        }
        return bytes.Length;
    }
}
