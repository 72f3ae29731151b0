using System.Text;
using System.Text.Json;
using Inkwell.Templates;

namespace Inkwell.Server.OpenAI.Tools;

/// <summary>
/// Puts a chat's tools and tool turns into the prompt. A template that reads them (found by <see cref="ChatTemplate"/>'s
/// probes) gets them as Hugging Face passes them: `tools` as a variable, tool_calls and tool messages as they are.
/// For a template that does not, this does what llama.cpp does for generic templates: the tools and the format to call
/// them in go into the system prompt, earlier calls into the assistant's content and tool results into user turns, all
/// in the Hermes format (`&lt;tool_call&gt;{"name": ..., "arguments": ...}&lt;/tool_call&gt;`, which Qwen2.5 adopted)
/// that <see cref="ToolCallParser"/> reads back. With tool_choice "none" no instruction is added.
/// </summary>
public static class ToolPrompt
{
    public const string CallOpen = "<tool_call>";
    public const string CallClose = "</tool_call>";
    private const string ResponseOpen = "<tool_response>";
    private const string ResponseClose = "</tool_response>";

    public static (List<Dictionary<string, object?>> Messages, Dictionary<string, object?>? Variables) Prepare(
        List<Dictionary<string, object?>> messages, ToolPlan? plan, ChatTemplate template)
    {
        if (!template.SupportsToolCalls) messages = CallsAsContent(messages);
        if (!template.SupportsToolResponses) messages = ResultsAsUserTurns(messages);
        if (plan is null) return (messages, null);
        if (!template.SupportsTools && plan.Mode != ToolChoiceMode.None) messages = WithInstruction(messages, plan);
        return (messages, new Dictionary<string, object?> { ["tools"] = plan.Source });
    }

    /// <summary>The system-prompt text that offers the tools to a template that does not render them (Hermes' wording).</summary>
    public static string Instruction(ToolPlan plan)
    {
        var sb = new StringBuilder();
        sb.Append("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n");
        sb.Append("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        foreach (var tool in plan.Tools) sb.Append('\n').Append(JsonSerializer.Serialize(tool.Source, OpenAIJson.Options));
        sb.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within ")
          .Append("<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
        return sb.ToString();
    }

    /// <summary>Appended to a leading system message, or a new one first (the system-role polyfill then moves it if needed).</summary>
    private static List<Dictionary<string, object?>> WithInstruction(List<Dictionary<string, object?>> messages, ToolPlan plan)
    {
        string instruction = Instruction(plan);
        var result = new List<Dictionary<string, object?>>(messages);
        if (result.Count > 0 && result[0]["role"] is "system" && result[0]["content"] is string system)
        {
            result[0] = new Dictionary<string, object?>(result[0]) { ["content"] = system.Length == 0 ? instruction : system + "\n\n" + instruction };
        }
        else
        {
            result.Insert(0, new Dictionary<string, object?> { ["role"] = "system", ["content"] = instruction });
        }
        return result;
    }

    /// <summary>An assistant turn's calls as Hermes blocks after its content, one per line.</summary>
    private static List<Dictionary<string, object?>> CallsAsContent(List<Dictionary<string, object?>> messages)
    {
        var result = new List<Dictionary<string, object?>>(messages.Count);
        foreach (var message in messages)
        {
            if (!message.TryGetValue("tool_calls", out var value) || value is not List<object?> calls)
            {
                result.Add(message);
                continue;
            }
            var blocks = calls.Cast<Dictionary<string, object?>>().Select(call =>
            {
                var function = (Dictionary<string, object?>)call["function"]!;
                return FormatCall((string)function["name"]!, (JsonElement)function["arguments"]!);
            });
            string content = message["content"] as string ?? "";
            var rewritten = new Dictionary<string, object?>(message) { ["content"] = (content.Length > 0 ? content + "\n" : "") + string.Join("\n", blocks) };
            rewritten.Remove("tool_calls");
            result.Add(rewritten);
        }
        return result;
    }

    public static string FormatCall(string name, JsonElement arguments) =>
        $"{CallOpen}\n{{\"name\": {JsonSerializer.Serialize(name, OpenAIJson.Options)}, \"arguments\": {JsonSerializer.Serialize(arguments, OpenAIJson.Options)}}}\n{CallClose}";

    /// <summary>Tool results as user turns holding &lt;tool_response&gt; blocks; consecutive results share one turn (turns keep alternating).</summary>
    private static List<Dictionary<string, object?>> ResultsAsUserTurns(List<Dictionary<string, object?>> messages)
    {
        var result = new List<Dictionary<string, object?>>(messages.Count);
        Dictionary<string, object?>? open = null;
        foreach (var message in messages)
        {
            if (message["role"] is not "tool")
            {
                open = null;
                result.Add(message);
                continue;
            }
            string block = $"{ResponseOpen}\n{message["content"]}\n{ResponseClose}";
            if (open is null)
            {
                open = new Dictionary<string, object?> { ["role"] = "user", ["content"] = block };
                result.Add(open);
            }
            else
            {
                open["content"] = (string)open["content"]! + "\n" + block;
            }
        }
        return result;
    }
}
