using System.Text;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine.Decoding;

/// <summary>
/// Builds a request's generated text as tokens come, through the tokenizer's <see cref="IncrementalDecoder"/> (which
/// holds an incomplete multibyte character until its last byte arrives and drops SentencePiece's dummy-prefix space
/// after BOS), and finds stop sequences across token boundaries (searching only the tail that new text could
/// complete). After the first match the text ends at the stop sequence: with it when <paramref name="includeStopSequence"/>
/// (TGI), without it otherwise (OpenAI). <see cref="TakeDelta"/> hands out text for streaming, holding back a tail
/// that could still turn out to be the start of a stop sequence, so no stop text is ever sent to be taken back.
/// </summary>
public sealed class TextAccumulator(IncrementalDecoder decoder, IReadOnlyList<string> stopSequences, bool includeStopSequence = true)
{
    private readonly StringBuilder _text = new();
    private readonly int _longestStop = stopSequences.Count == 0 ? 0 : stopSequences.Max(s => s.Length);
    private int _sent;

    public string Text => _text.ToString();
    public int Length => _text.Length;
    public string? MatchedStop { get; private set; }

    /// <summary>Adds a token; returns the text it completed (possibly empty), before any stop-sequence cut.</summary>
    public string Append(int token)
    {
        string s = decoder.Append(token);
        if (MatchedStop is not null) return s;
        int before = _text.Length;
        _text.Append(s);
        if (_longestStop > 0) FindStop(before);
        return s;
    }

    /// <summary>Text not yet handed out that is safe to send; at the end (<paramref name="final"/>) everything left.</summary>
    public string TakeDelta(bool final)
    {
        int safe = final || MatchedStop is not null ? _text.Length : _text.Length - HeldBack();
        if (safe <= _sent) return "";
        string delta = _text.ToString(_sent, safe - _sent);
        _sent = safe;
        return delta;
    }

    private void FindStop(int appendedAt)
    {
        int from = Math.Max(0, appendedAt - _longestStop + 1);
        string tail = _text.ToString(from, _text.Length - from);
        int bestEnd = int.MaxValue, bestStart = 0;
        foreach (var stop in stopSequences)
        {
            if (stop.Length == 0) continue;
            int i = tail.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && i + stop.Length < bestEnd)
            {
                bestEnd = i + stop.Length;
                bestStart = i;
                MatchedStop = stop;
            }
        }
        if (MatchedStop is not null) _text.Length = from + (includeStopSequence ? bestEnd : bestStart);
    }

    /// <summary>Length of the longest unsent suffix that is a proper prefix of some stop sequence.</summary>
    private int HeldBack()
    {
        int unsent = _text.Length - _sent, best = 0;
        foreach (var stop in stopSequences)
        {
            for (int len = Math.Min(stop.Length - 1, unsent); len > best; len--)
            {
                if (EndsWith(stop.AsSpan(0, len))) { best = len; break; }
            }
        }
        return best;
    }

    private bool EndsWith(ReadOnlySpan<char> s)
    {
        int at = _text.Length - s.Length;
        for (int i = 0; i < s.Length; i++) if (_text[at + i] != s[i]) return false;
        return true;
    }
}
