using System.Text;
using System.Text.Json;

namespace Inkwell.Server.OpenAI.Tools;

/// <summary>
/// One choice's output when tool calls are parsed: the raw text (with marker tokens such as [TOOL_CALLS], which the
/// text otherwise leaves out) turned into content and tool calls. Streaming and unary answers come from the same
/// resolution of the whole text, so they agree: while streaming, "auto" sends content as it comes but holds back
/// whatever could be the start of a call (a marker's prefix, leading blank text, an output opening with "{") and,
/// once a call may have begun, everything after it; the calls go out at the end. A named function's output is its
/// arguments, streamed as they come.
/// </summary>
public sealed class ToolCallOutput(ToolPlan plan, Func<string> newCallId)
{
    private readonly StringBuilder _text = new();
    private int _emitted;   // characters of the text sent as content
    private bool _holding;  // a call may have begun: no more content until the end
    private string? _namedCallId;

    /// <summary>A token's text, plus the token's own text when it is a tool-call token the output stage leaves out.</summary>
    public static string RawPiece(string textDelta, bool special, string tokenText) =>
        special && ToolCallParser.IsCallToken(tokenText) ? textDelta + tokenText : textDelta;

    /// <summary>What a resolved output is: content (null when blank or all calls) and calls.</summary>
    private sealed record Resolution(string? Content, IReadOnlyList<ParsedToolCall> Calls);

    /// <summary>
    /// Whether the output is whole calls: any parsed call is; a named function's arguments are once they parse as
    /// JSON. A grammar can close its JSON on the very token that reaches max_tokens, so the engine's "length" alone
    /// does not say a call was cut short.
    /// </summary>
    public bool CallsComplete()
    {
        var resolution = Resolve();
        if (plan.Mode != ToolChoiceMode.Named) return resolution.Calls.Count > 0;
        try
        {
            using var _ = JsonDocument.Parse(resolution.Calls[0].Arguments);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Streaming: takes a raw piece, returns the content and tool-call deltas to send now.</summary>
    public (string Content, IReadOnlyList<ToolCallDeltaDto>? Calls) Feed(string piece)
    {
        _text.Append(piece);
        switch (plan.Mode)
        {
            case ToolChoiceMode.Named:
                if (_namedCallId is null)
                {
                    _namedCallId = newCallId();
                    return ("", [new ToolCallDeltaDto(0, _namedCallId, "function", new FunctionCallDeltaDto(plan.NamedFunction, piece))]);
                }
                return ("", piece.Length == 0 ? null : [new ToolCallDeltaDto(0, null, null, new FunctionCallDeltaDto(null, piece))]);
            case ToolChoiceMode.Required:
                return ("", null); // the grammar's JSON is parsed whole at the end
            default:
                return (AutoContent(), null);
        }
    }

    /// <summary>Streaming, after the last piece: the content not yet sent, and the calls (none for a named function, already sent).</summary>
    public (string Content, IReadOnlyList<ToolCallDeltaDto> Calls) Finish()
    {
        var resolution = Resolve();
        if (plan.Mode == ToolChoiceMode.Named) return ("", []);
        string content = resolution.Content ?? "";
        string rest = _emitted <= content.Length ? content[_emitted..] : "";
        var deltas = resolution.Calls.Select((call, i) =>
            new ToolCallDeltaDto(i, newCallId(), "function", new FunctionCallDeltaDto(call.Name, call.Arguments))).ToList();
        return (rest, deltas);
    }

    /// <summary>Unary: the whole text in, the message's content and calls out.</summary>
    public (string? Content, IReadOnlyList<ToolCallDto>? Calls) Complete(string text)
    {
        _text.Clear().Append(text);
        var resolution = Resolve();
        if (resolution.Calls.Count == 0) return (resolution.Content ?? "", null);
        return (resolution.Content, resolution.Calls.Select(c => new ToolCallDto(newCallId(), "function", new FunctionCallDto(c.Name, c.Arguments))).ToList());
    }

    /// <summary>
    /// The whole output: a named function's arguments (even when cut short: the finish reason says so); "required"'s
    /// calls, or the text as content if it was cut short; "auto"'s calls in the model's format (a complete call in a
    /// cut-short output still counts), or the text as content.
    /// </summary>
    private Resolution Resolve()
    {
        string text = _text.ToString();
        switch (plan.Mode)
        {
            case ToolChoiceMode.Named:
                return new Resolution(null, [new ParsedToolCall(plan.NamedFunction!, text)]);
            case ToolChoiceMode.Required:
                return ToolCallParser.ParseRequired(text, plan) is { } calls ? new Resolution(null, calls) : new Resolution(text, []);
            default:
                return ToolCallParser.ParseAuto(text, plan) is { } parsed ? new Resolution(parsed.Content, parsed.Calls) : new Resolution(text, []);
        }
    }

    /// <summary>The content that can go out now without sending part of a call (see the class summary).</summary>
    private string AutoContent()
    {
        if (_holding) return "";
        // Only the text not yet sent is looked at (copying the whole text for every token would grow with the answer).
        string unsent = _text.ToString(_emitted, _text.Length - _emitted);
        int end;
        int marker = ToolCallParser.FirstMarker(unsent);
        if (marker >= 0)
        {
            end = marker;
            _holding = true;
        }
        else
        {
            end = unsent.Length - ToolCallParser.PartialMarkerLength(unsent);
        }
        if (_emitted == 0)
        {
            // Nothing sent yet: blank text may precede a call, and an output opening with "{" may be one (Llama 3.x).
            int first = 0;
            while (first < end && char.IsWhiteSpace(unsent[first])) first++;
            if (first == end) return "";
            if (unsent[first] == '{')
            {
                _holding = true;
                return "";
            }
        }
        _emitted += end;
        return unsent[..end];
    }
}
