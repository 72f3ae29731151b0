using System.Text;

namespace Inkwell.Engine.Decoding;

/// <summary>
/// Builds a request's generated text from token bytes as they come: a UTF-8 decoder holds an incomplete multibyte
/// sequence until its last byte arrives, so streamed text never splits a character. Also finds stop sequences across
/// token boundaries (searching only the tail that new text could complete) and cuts the text after the first one,
/// keeping the stop sequence as TGI does.
/// </summary>
public sealed class TextAccumulator(IReadOnlyList<string> stopSequences, bool stripLeadingSpace)
{
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly StringBuilder _text = new();
    private readonly int _longestStop = stopSequences.Count == 0 ? 0 : stopSequences.Max(s => s.Length);
    private char[] _chars = new char[64];
    private bool _atStart = stripLeadingSpace;

    public string Text => _text.ToString();
    public int Length => _text.Length;
    public string? MatchedStop { get; private set; }

    /// <summary>Adds a token's bytes; returns the text that became complete (possibly empty).</summary>
    public string Append(ReadOnlySpan<byte> bytes)
    {
        int max = _utf8.GetCharCount(bytes, flush: false);
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush: false);
        var piece = _chars.AsSpan(0, n);
        if (_atStart && piece.Length > 0)
        {
            // SentencePiece's dummy prefix: the first piece after BOS carries a space that is not part of the text.
            if (piece[0] == ' ') piece = piece[1..];
            _atStart = false;
        }
        string s = piece.ToString();
        int before = _text.Length;
        _text.Append(s);
        if (_longestStop > 0 && MatchedStop is null) FindStop(before);
        return s;
    }

    private void FindStop(int appendedAt)
    {
        int from = Math.Max(0, appendedAt - _longestStop + 1);
        string tail = _text.ToString(from, _text.Length - from);
        int bestEnd = int.MaxValue;
        foreach (var stop in stopSequences)
        {
            if (stop.Length == 0) continue;
            int i = tail.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && i + stop.Length < bestEnd)
            {
                bestEnd = i + stop.Length;
                MatchedStop = stop;
            }
        }
        if (MatchedStop is not null) _text.Length = from + bestEnd;
    }
}
