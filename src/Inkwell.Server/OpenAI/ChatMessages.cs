using System.Text.Json;
using Inkwell.Server.OpenAI.Tools;

namespace Inkwell.Server.OpenAI;

/// <summary>
/// OpenAI chat messages as a chat template receives them (Hugging Face's apply_chat_template, as vLLM passes them):
/// role ("developer" as "system"), content as text (text parts joined; null assistant content as ""), name, an
/// assistant's tool_calls as OpenAI objects whose function.arguments is parsed from its JSON string into a value, and
/// a tool message's tool_call_id. Shape errors are OpenAI 400s naming the field.
/// </summary>
public static class ChatMessages
{
    public static List<Dictionary<string, object?>> ToTemplate(IReadOnlyList<ChatMessageDto?> messages)
    {
        var list = new List<Dictionary<string, object?>>(messages.Count);
        for (int i = 0; i < messages.Count; i++) list.Add(ToTemplate(messages[i], i));
        return list;
    }

    private static Dictionary<string, object?> ToTemplate(ChatMessageDto? m, int index)
    {
        string param = $"messages[{index}]";
        if (m is null) throw OpenAIException.Invalid(param, $"Invalid '{param}': expected an object.");
        string role = m.Role switch
        {
            null or "" => throw OpenAIException.Invalid(param + ".role", $"Missing required parameter: '{param}.role'.", code: "missing_required_parameter"),
            "developer" => "system", // OpenAI's newer name for system instructions; templates know "system"
            "system" or "user" or "assistant" or "tool" => m.Role,
            _ => throw OpenAIException.Invalid(param + ".role", $"Invalid value: '{m.Role}'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'."),
        };
        var c = m.Content;
        string content = c.ValueKind switch
        {
            JsonValueKind.String => c.GetString()!,
            JsonValueKind.Null or JsonValueKind.Undefined when role == "assistant" => "",
            JsonValueKind.Array => string.Concat(c.EnumerateArray().Select(part => TextPart(part, param))),
            _ => throw OpenAIException.Invalid(param + ".content", $"Invalid '{param}.content': expected a string or an array of text parts."),
        };
        var message = new Dictionary<string, object?> { ["role"] = role, ["content"] = content };
        if (m.Name is { } name) message["name"] = name;

        bool hasCalls = m.ToolCalls.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);
        if (hasCalls && role != "assistant")
            throw OpenAIException.Invalid(param + ".tool_calls", $"Invalid parameter: '{param}.tool_calls' is only allowed on assistant messages.");
        if (hasCalls) message["tool_calls"] = ToolCalls(m.ToolCalls, param + ".tool_calls");

        if (role == "tool")
        {
            if (string.IsNullOrEmpty(m.ToolCallId))
                throw OpenAIException.Invalid(param + ".tool_call_id", $"Missing required parameter: '{param}.tool_call_id'.", code: "missing_required_parameter");
            message["tool_call_id"] = m.ToolCallId;
        }
        else if (m.ToolCallId is not null)
        {
            throw OpenAIException.Invalid(param + ".tool_call_id", $"Invalid parameter: '{param}.tool_call_id' is only allowed on tool messages.");
        }
        return message;
    }

    private static List<object?> ToolCalls(JsonElement calls, string param)
    {
        if (calls.ValueKind != JsonValueKind.Array)
            throw OpenAIException.Invalid(param, $"Invalid type for '{param}': expected an array of tool calls.", code: "invalid_type");
        var list = new List<object?>();
        int i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            string p = $"{param}[{i++}]";
            if (call.ValueKind != JsonValueKind.Object)
                throw OpenAIException.Invalid(p, $"Invalid type for '{p}': expected an object.", code: "invalid_type");
            if (!call.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
                throw OpenAIException.Invalid(p + ".id", $"Missing required parameter: '{p}.id'.", code: "missing_required_parameter");
            if (!call.TryGetProperty("type", out var type) || !type.ValueEquals("function"))
                throw OpenAIException.Invalid(p + ".type", $"Invalid value for '{p}.type': expected 'function'.");
            if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
                throw OpenAIException.Invalid(p + ".function", $"Missing required parameter: '{p}.function'.", code: "missing_required_parameter");
            string name = ToolPlanParser.FunctionName(function, p + ".function");
            list.Add(new Dictionary<string, object?>
            {
                ["id"] = id.GetString(),
                ["type"] = "function",
                ["function"] = new Dictionary<string, object?> { ["name"] = name, ["arguments"] = Arguments(function, p + ".function.arguments") },
            });
        }
        return list;
    }

    /// <summary>
    /// OpenAI sends arguments as JSON text; templates expect the value (Qwen2.5 writes `arguments | tojson`, Llama 3.1
    /// iterates it), as Hugging Face and vLLM pass it. Text that is not JSON cannot be rendered faithfully: refused.
    /// </summary>
    private static JsonElement Arguments(JsonElement function, string param)
    {
        if (!function.TryGetProperty("arguments", out var arguments))
            throw OpenAIException.Invalid(param, $"Missing required parameter: '{param}'.", code: "missing_required_parameter");
        if (arguments.ValueKind != JsonValueKind.String)
            throw OpenAIException.Invalid(param, $"Invalid type for '{param}': expected a string of JSON.", code: "invalid_type");
        try
        {
            using var doc = JsonDocument.Parse(arguments.GetString()!);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw OpenAIException.Invalid(param, $"Invalid '{param}': the arguments must be JSON text ({e.Message}).");
        }
    }

    private static string TextPart(JsonElement part, string param)
    {
        if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text")
            && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
            return text.GetString()!;
        throw OpenAIException.Invalid(param + ".content", "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported by this model", code: "unsupported_value");
    }
}
