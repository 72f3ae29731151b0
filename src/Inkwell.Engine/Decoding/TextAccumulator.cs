using System.Text;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine.Decoding;

/// <summary>
/// Builds a request's generated text as tokens come, through the tokenizer's <see cref="IncrementalDecoder"/> (which
/// holds an incomplete multibyte character until its last byte arrives and drops SentencePiece's dummy-prefix space
/// after BOS), and finds stop sequences across token boundaries (searching only the tail that new text could
/// complete), cutting the text after the first one and keeping the stop sequence as TGI does.
/// </summary>
public sealed class TextAccumulator(IncrementalDecoder decoder, IReadOnlyList<string> stopSequences)
{
    private readonly StringBuilder _text = new();
    private readonly int _longestStop = stopSequences.Count == 0 ? 0 : stopSequences.Max(s => s.Length);

    public string Text => _text.ToString();
    public int Length => _text.Length;
    public string? MatchedStop { get; private set; }

    /// <summary>Adds a token; returns the text that became complete (possibly empty).</summary>
    public string Append(int token)
    {
        string s = decoder.Append(token);
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
