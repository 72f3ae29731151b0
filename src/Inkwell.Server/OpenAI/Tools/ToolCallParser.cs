using System.Text.Json;

namespace Inkwell.Server.OpenAI.Tools;

/// <summary>One call read from the output: a function name and its arguments as JSON text.</summary>
public sealed record ParsedToolCall(string Name, string Arguments);

/// <summary>An output split into the text before the calls (null when blank) and the calls.</summary>
public sealed record ParsedToolOutput(string? Content, IReadOnlyList<ParsedToolCall> Calls);

/// <summary>
/// Reads tool calls from a model's output in the formats real chat templates ask for (vLLM's hermes, llama3_json and
/// mistral parsers):
/// <list type="bullet">
/// <item>Hermes / Qwen2.5 (and the generic instruction of <see cref="ToolPrompt"/>): one or more
/// <c>&lt;tool_call&gt;{"name": ..., "arguments": ...}&lt;/tool_call&gt;</c>, the last one may be left unclosed; text
/// before the first goes to content, text between or after them is dropped (as vLLM does).</item>
/// <item>Llama 3.x: the whole output is one JSON object {"name": ..., "parameters" or "arguments": ...}, optionally
/// after <c>&lt;|python_tag|&gt;</c> (then several may be separated by ";").</item>
/// <item>Mistral: <c>[TOOL_CALLS]</c> followed by a JSON array of {"name", "arguments"} (or one such object); or, from
/// the v11 tokenizers on (Mistral Small 3.x, Devstral, Magistral), each call as <c>[TOOL_CALLS]name[ARGS]{...}</c>,
/// optionally <c>[TOOL_CALLS]name[CALL_ID]id[ARGS]{...}</c>, one after another.</item>
/// </list>
/// A call must name one of the offered functions and carry an object (or JSON text of one) as arguments; anything
/// else is not a call, and the output stays ordinary content.
/// </summary>
public static class ToolCallParser
{
    public const string MistralMarker = "[TOOL_CALLS]";
    public const string PythonTag = "<|python_tag|>";
    /// <summary>Special tokens inside a v11+ Mistral call: before its arguments, and before an optional call id.</summary>
    public const string MistralArgs = "[ARGS]", MistralCallId = "[CALL_ID]";

    /// <summary>Where a call can begin in running text.</summary>
    public static readonly IReadOnlyList<string> Markers = [ToolPrompt.CallOpen, MistralMarker, PythonTag];

    /// <summary>Special tokens whose text the parser needs (the output stage leaves special tokens out of the text).</summary>
    public static bool IsCallToken(string text) =>
        Markers.Contains(text) || text is ToolPrompt.CallClose or MistralArgs or MistralCallId;

    /// <summary>The model's own formats ("auto"); null when the output holds no call.</summary>
    public static ParsedToolOutput? ParseAuto(string text, ToolPlan plan)
    {
        var calls = new List<ParsedToolCall>();
        string? content = null;
        string trimmed = text.Trim();
        if (trimmed.StartsWith('{') && Call(Parse(trimmed), plan) is { } bare)
        {
            calls.Add(bare);
        }
        else
        {
            int start = FirstMarker(text);
            if (start < 0) return null;
            content = string.IsNullOrWhiteSpace(text[..start]) ? null : text[..start];
            string rest = text[start..];
            bool ok = rest.StartsWith(ToolPrompt.CallOpen, StringComparison.Ordinal) ? Hermes(rest, plan, calls)
                : rest.StartsWith(MistralMarker, StringComparison.Ordinal) ? Mistral(rest[MistralMarker.Length..], plan, calls)
                : PythonTagged(rest[PythonTag.Length..], plan, calls);
            if (!ok || calls.Count == 0) return null;
        }
        // parallel_tool_calls false: the first call only, as vLLM does.
        return new ParsedToolOutput(content, plan.ParallelCalls ? calls : calls.GetRange(0, 1));
    }

    /// <summary>"required": the grammar's output, an array of {"name", "arguments"} or one such object; null when cut short.</summary>
    public static IReadOnlyList<ParsedToolCall>? ParseRequired(string text, ToolPlan plan)
    {
        if (Parse(text) is not { } root) return null;
        var calls = new List<ParsedToolCall>();
        return Collect(root, plan, calls) ? calls : null;
    }

    /// <summary>Where the first marker in the text begins, or -1.</summary>
    public static int FirstMarker(string text)
    {
        int first = -1;
        foreach (var marker in Markers)
        {
            int i = text.IndexOf(marker, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        return first;
    }

    /// <summary>How many characters at the end of the text could be the start of a marker.</summary>
    public static int PartialMarkerLength(string text)
    {
        int longest = 0;
        foreach (var marker in Markers)
        {
            for (int k = Math.Min(marker.Length - 1, text.Length); k > longest; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(marker.AsSpan(0, k)))
                {
                    longest = k;
                    break;
                }
            }
        }
        return longest;
    }

    private static bool Hermes(string text, ToolPlan plan, List<ParsedToolCall> calls)
    {
        int at = 0;
        while ((at = text.IndexOf(ToolPrompt.CallOpen, at, StringComparison.Ordinal)) >= 0)
        {
            int bodyStart = at + ToolPrompt.CallOpen.Length;
            int close = text.IndexOf(ToolPrompt.CallClose, bodyStart, StringComparison.Ordinal);
            int next = text.IndexOf(ToolPrompt.CallOpen, bodyStart, StringComparison.Ordinal);
            if (next >= 0 && (close < 0 || next < close)) close = -1; // unclosed, and another call follows
            string body = text[bodyStart..(close >= 0 ? close : next >= 0 ? next : text.Length)];
            if (Call(Parse(body), plan) is not { } call) return false;
            calls.Add(call);
            if (close < 0 && next < 0) break;
            at = close >= 0 ? close + ToolPrompt.CallClose.Length : next;
        }
        return true;
    }

    private static bool Mistral(string text, ToolPlan plan, List<ParsedToolCall> calls)
    {
        if (!text.Contains(MistralArgs, StringComparison.Ordinal)) return Parse(text) is { } root && Collect(root, plan, calls);
        foreach (var part in text.Split(MistralMarker))
        {
            int args = part.IndexOf(MistralArgs, StringComparison.Ordinal);
            if (args < 0) return false;
            int id = part.IndexOf(MistralCallId, 0, args, StringComparison.Ordinal);
            string name = part[..(id >= 0 ? id : args)].Trim();
            if (plan.Find(name) is null || Parse(part[(args + MistralArgs.Length)..]) is not { ValueKind: JsonValueKind.Object } arguments)
                return false;
            calls.Add(new ParsedToolCall(name, arguments.GetRawText()));
        }
        return true;
    }

    private static bool PythonTagged(string text, ToolPlan plan, List<ParsedToolCall> calls)
    {
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Call(Parse(part), plan) is not { } call) return false;
            calls.Add(call);
        }
        return true;
    }

    /// <summary>An array of calls or a single one.</summary>
    private static bool Collect(JsonElement root, ToolPlan plan, List<ParsedToolCall> calls)
    {
        if (root.ValueKind == JsonValueKind.Array)
        {
            if (root.GetArrayLength() == 0) return false;
            foreach (var item in root.EnumerateArray())
            {
                if (Call(item, plan) is not { } call) return false;
                calls.Add(call);
            }
            return true;
        }
        if (Call(root, plan) is not { } single) return false;
        calls.Add(single);
        return true;
    }

    private static ParsedToolCall? Call(JsonElement? element, ToolPlan plan)
    {
        if (element is not { ValueKind: JsonValueKind.Object } call) return null;
        if (!call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || plan.Find(name.GetString()!) is null)
            return null;
        if (!call.TryGetProperty("arguments", out var arguments) && !call.TryGetProperty("parameters", out arguments))
            return new ParsedToolCall(name.GetString()!, "{}");
        if (arguments.ValueKind == JsonValueKind.String && Parse(arguments.GetString()!) is { ValueKind: JsonValueKind.Object } inner)
            arguments = inner;
        return arguments.ValueKind == JsonValueKind.Object ? new ParsedToolCall(name.GetString()!, arguments.GetRawText()) : null;
    }

    /// <summary>The text as one JSON value (surrounding whitespace allowed), or null.</summary>
    private static JsonElement? Parse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
