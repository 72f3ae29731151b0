namespace Inkwell.Server.OpenAI;

/// <summary>
/// OpenAI leaves the stop sequence out of the text (the engine keeps it, as TGI does). While streaming, text that
/// could still turn out to be the start of a stop sequence is held back until it is known not to be.
/// </summary>
internal sealed class StopTrimmer(IReadOnlyList<string> stops)
{
    private string _text = "";
    private int _emitted;

    public string Emitted => _text[.._emitted];

    /// <summary>Adds generated text; returns what is now safe to send.</summary>
    public string Push(string piece)
    {
        _text += piece;
        int safe = _text.Length - HeldBack();
        if (safe <= _emitted) return "";
        string delta = _text[_emitted..safe];
        _emitted = safe;
        return delta;
    }

    /// <summary>The rest of the text once the final text is known (the engine's, authoritative), without the stop sequence.</summary>
    public string Finish(string finalText, string? matchedStop)
    {
        string text = Trim(finalText, matchedStop);
        // Normally text extends what was sent; if not (it never should), send nothing rather than garble the stream.
        string delta = text.Length >= _emitted && text.StartsWith(_text[.._emitted], StringComparison.Ordinal) ? text[_emitted..] : "";
        _text = text;
        _emitted = text.Length;
        return delta;
    }

    public static string Trim(string text, string? matchedStop) =>
        matchedStop is { Length: > 0 } && text.EndsWith(matchedStop, StringComparison.Ordinal) ? text[..^matchedStop.Length] : text;

    /// <summary>Length of the longest suffix of the text that is a proper prefix of (or equal to) some stop sequence.</summary>
    private int HeldBack()
    {
        int best = 0;
        foreach (var stop in stops)
        {
            for (int len = Math.Min(stop.Length, _text.Length); len > best; len--)
            {
                if (_text.AsSpan(_text.Length - len).SequenceEqual(stop.AsSpan(0, len))) { best = len; break; }
            }
        }
        return Math.Min(best, _text.Length - _emitted);
    }
}
