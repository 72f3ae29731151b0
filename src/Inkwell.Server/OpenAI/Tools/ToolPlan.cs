using System.Text.Json;
using System.Text.RegularExpressions;

namespace Inkwell.Server.OpenAI.Tools;

/// <summary>What tool_choice asks of the model.</summary>
public enum ToolChoiceMode
{
    /// <summary>No call: the tools are shown to the template, the output is plain content.</summary>
    None,
    /// <summary>The model decides; its output is parsed for calls in the formats real templates ask for.</summary>
    Auto,
    /// <summary>At least one call, to any of the tools: the output is constrained to calls.</summary>
    Required,
    /// <summary>One call to the named function: the output is constrained to its arguments.</summary>
    Named,
}

/// <summary>One offered function: its name, its parameters' JSON schema (if given) and the tool object as the client sent it.</summary>
public sealed record ToolDefinition(string Name, JsonElement? Parameters, JsonElement Source, int Index);

/// <summary>
/// A chat request's tools, validated: the functions (in request order), tool_choice and parallel_tool_calls.
/// <see cref="Source"/> is the `tools` array as sent, which the chat template receives as Hugging Face passes it.
/// </summary>
public sealed record ToolPlan(IReadOnlyList<ToolDefinition> Tools, JsonElement Source, ToolChoiceMode Mode, string? NamedFunction, bool ParallelCalls)
{
    public ToolDefinition? Find(string name) => Tools.FirstOrDefault(t => t.Name == name);

    /// <summary>Whether the output is turned into tool calls (every mode but "none").</summary>
    public bool ParsesCalls => Mode != ToolChoiceMode.None;
}

/// <summary>OpenAI's rules for `tools`, `tool_choice` and `parallel_tool_calls`, with its messages and params.</summary>
public static partial class ToolPlanParser
{
    private const int MaxNameLength = 64;

    [GeneratedRegex("^[a-zA-Z0-9_-]+$")]
    private static partial Regex NamePattern();

    /// <summary>The plan, or null when the request offers no tools (then tool_choice may only be "none", or absent).</summary>
    public static ToolPlan? Parse(JsonElement tools, JsonElement toolChoice, bool? parallelToolCalls)
    {
        bool hasTools = tools.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);
        bool hasChoice = toolChoice.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);
        if (!hasTools)
        {
            if (hasChoice && !(toolChoice.ValueKind == JsonValueKind.String && toolChoice.ValueEquals("none")))
                throw OpenAIException.Invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.");
            if (parallelToolCalls is not null)
                throw OpenAIException.Invalid("parallel_tool_calls", "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.");
            return null;
        }
        if (tools.ValueKind != JsonValueKind.Array)
            throw OpenAIException.Invalid("tools", "Invalid type for 'tools': expected an array of tool objects.", code: "invalid_type");
        if (tools.GetArrayLength() == 0)
            throw OpenAIException.Invalid("tools", "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.", code: "empty_array");

        var definitions = new List<ToolDefinition>();
        int index = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var definition = Definition(tool, index);
            if (definitions.Any(d => d.Name == definition.Name))
                throw OpenAIException.Invalid($"tools[{index}].function.name", $"Invalid 'tools': the function name '{definition.Name}' is given more than once; names must be unique.");
            definitions.Add(definition);
            index++;
        }

        var (mode, named) = Choice(toolChoice, definitions);
        return new ToolPlan(definitions, tools, mode, named, parallelToolCalls ?? true);
    }

    private static ToolDefinition Definition(JsonElement tool, int index)
    {
        string param = $"tools[{index}]";
        if (tool.ValueKind != JsonValueKind.Object)
            throw OpenAIException.Invalid(param, $"Invalid type for '{param}': expected an object.", code: "invalid_type");
        if (!tool.TryGetProperty("type", out var type))
            throw OpenAIException.Invalid(param + ".type", $"Missing required parameter: '{param}.type'.", code: "missing_required_parameter");
        if (!type.ValueEquals("function"))
            throw OpenAIException.Invalid(param + ".type", $"Invalid value: '{Text(type)}'. Supported values are: 'function'.");
        if (!tool.TryGetProperty("function", out var function))
            throw OpenAIException.Invalid(param + ".function", $"Missing required parameter: '{param}.function'.", code: "missing_required_parameter");
        if (function.ValueKind != JsonValueKind.Object)
            throw OpenAIException.Invalid(param + ".function", $"Invalid type for '{param}.function': expected an object.", code: "invalid_type");

        string name = FunctionName(function, param + ".function");
        if (function.TryGetProperty("description", out var description) && description.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            throw OpenAIException.Invalid(param + ".function.description", $"Invalid type for '{param}.function.description': expected a string.", code: "invalid_type");
        JsonElement? parameters = null;
        if (function.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind != JsonValueKind.Object)
                throw OpenAIException.Invalid(param + ".function.parameters", $"Invalid type for '{param}.function.parameters': expected a JSON schema object.", code: "invalid_type");
            parameters = p;
        }
        return new ToolDefinition(name, parameters, tool, index);
    }

    /// <summary>A function name as OpenAI allows it: 1 to 64 of a-z, A-Z, 0-9, underscore and dash.</summary>
    internal static string FunctionName(JsonElement function, string param)
    {
        if (!function.TryGetProperty("name", out var nameElement))
            throw OpenAIException.Invalid(param + ".name", $"Missing required parameter: '{param}.name'.", code: "missing_required_parameter");
        if (nameElement.ValueKind != JsonValueKind.String)
            throw OpenAIException.Invalid(param + ".name", $"Invalid type for '{param}.name': expected a string.", code: "invalid_type");
        string name = nameElement.GetString()!;
        if (name.Length > MaxNameLength)
            throw OpenAIException.Invalid(param + ".name", $"Invalid '{param}.name': string too long. Expected a string with maximum length {MaxNameLength}, but got a string with length {name.Length} instead.", code: "string_above_max_length");
        if (!NamePattern().IsMatch(name))
            throw OpenAIException.Invalid(param + ".name", $"Invalid '{param}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", code: "invalid_value");
        return name;
    }

    /// <summary>"none" | "auto" | "required" | {"type": "function", "function": {"name"}}; absent means "auto" (tools were given).</summary>
    private static (ToolChoiceMode, string?) Choice(JsonElement choice, List<ToolDefinition> tools)
    {
        switch (choice.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return (ToolChoiceMode.Auto, null);
            case JsonValueKind.String:
                return choice.GetString() switch
                {
                    "none" => (ToolChoiceMode.None, null),
                    "auto" => (ToolChoiceMode.Auto, null),
                    "required" => (ToolChoiceMode.Required, null),
                    var other => throw OpenAIException.Invalid("tool_choice", $"Invalid value: '{other}'. Supported values are: 'none', 'auto' and 'required', or an object naming a function."),
                };
            case JsonValueKind.Object:
                if (!choice.TryGetProperty("type", out var type) || !type.ValueEquals("function"))
                    throw OpenAIException.Invalid("tool_choice.type", "Invalid value for 'tool_choice.type': expected 'function'.");
                if (!choice.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
                    throw OpenAIException.Invalid("tool_choice.function", "Missing required parameter: 'tool_choice.function'.", code: "missing_required_parameter");
                string name = FunctionName(function, "tool_choice.function");
                if (!tools.Any(t => t.Name == name))
                    throw OpenAIException.Invalid("tool_choice", $"Invalid value for 'tool_choice': the function '{name}' is not in 'tools'. Offered: {string.Join(", ", tools.Select(t => "'" + t.Name + "'"))}.");
                return (ToolChoiceMode.Named, name);
            default:
                throw OpenAIException.Invalid("tool_choice", "Invalid type for 'tool_choice': expected 'none', 'auto', 'required' or an object naming a function.", code: "invalid_type");
        }
    }

    private static string Text(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
}
