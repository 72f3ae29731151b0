namespace Inkwell.Templates;

/// <summary>
/// What a chat template renders, found as llama.cpp's minja finds its capabilities: render a small probe conversation
/// and look for a marker in the output. A template that throws on the probe does not support what it probes.
/// </summary>
internal static class ChatTemplateProbes
{
    private const string SystemProbe = "<|inkwell system probe 7f3a|>";
    private const string UserProbe = "<|inkwell user probe 7f3a|>";
    private const string ToolNameProbe = "inkwell_probe_tool_7f3a";
    private const string ArgumentProbe = "inkwell_probe_argument_7f3a";
    private const string ResultProbe = "<|inkwell tool result probe 7f3a|>";
    // Mistral's templates accept only 9 alphanumeric characters; OpenAI's ids are longer.
    private const string NineCharacterId = "call7f3a0";
    private const string OpenAIStyleId = "call_inkwellprobe7f3a0123";

    public static bool SystemRole(JinjaTemplate template) =>
        Shows(template, [Message("system", SystemProbe), Message("user", UserProbe)], tools: false, SystemProbe);

    public static bool Tools(JinjaTemplate template) =>
        Shows(template, [Message("user", UserProbe)], tools: true, ToolNameProbe);

    public static bool ToolCalls(JinjaTemplate template) =>
        Shows(template, [Message("user", UserProbe), ToolCall(NineCharacterId)], tools: true, ArgumentProbe);

    public static bool ToolResponses(JinjaTemplate template) =>
        Shows(template, [Message("user", UserProbe), ToolCall(NineCharacterId), ToolResult(NineCharacterId)], tools: true, ResultProbe);

    /// <summary>True when a call with a 9-character id renders but the same call with an OpenAI-style id does not.</summary>
    public static bool RequiresNineCharacterToolCallIds(JinjaTemplate template) =>
        !Shows(template, [Message("user", UserProbe), ToolCall(OpenAIStyleId)], tools: true, ArgumentProbe);

    private static TemplateDict Message(string role, string content) => new() { ["role"] = role, ["content"] = content };

    /// <summary>An assistant turn with one call, in Hugging Face's shape: an OpenAI tool call whose arguments are an object.</summary>
    private static TemplateDict ToolCall(string id) => new()
    {
        ["role"] = "assistant",
        ["content"] = "",
        ["tool_calls"] = new TemplateList
        {
            new TemplateDict
            {
                ["id"] = id,
                ["type"] = "function",
                ["function"] = new TemplateDict { ["name"] = ToolNameProbe, ["arguments"] = new TemplateDict { [ArgumentProbe] = "x" } },
            },
        },
    };

    private static TemplateDict ToolResult(string id) => new()
    {
        ["role"] = "tool",
        ["tool_call_id"] = id,
        ["name"] = ToolNameProbe,
        ["content"] = ResultProbe,
    };

    private static TemplateList ProbeTools() =>
    [
        new TemplateDict
        {
            ["type"] = "function",
            ["function"] = new TemplateDict
            {
                ["name"] = ToolNameProbe,
                ["description"] = "A probe",
                ["parameters"] = new TemplateDict
                {
                    ["type"] = "object",
                    ["properties"] = new TemplateDict { ["x"] = new TemplateDict { ["type"] = "string" } },
                    ["required"] = new TemplateList { "x" },
                },
            },
        },
    ];

    private static bool Shows(JinjaTemplate template, TemplateList messages, bool tools, string marker)
    {
        var variables = new List<KeyValuePair<string, object?>>
        {
            new("messages", messages),
            new("add_generation_prompt", false),
            new("bos_token", ""),
            new("eos_token", ""),
        };
        if (tools) variables.Add(new("tools", ProbeTools()));
        try
        {
            return template.RenderConverted(variables).Contains(marker, StringComparison.Ordinal);
        }
        catch (TemplateException)
        {
            return false;
        }
    }
}
