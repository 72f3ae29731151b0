using System.Text.Json;

namespace Inkwell.Templates;

/// <summary>
/// A model's chat template: renders a conversation into the prompt text, with the model's special tokens and
/// add_generation_prompt, the way Hugging Face and llama.cpp do. A template that cannot take a system message
/// (found by rendering a probe conversation, as llama.cpp does) gets the system content merged into the next
/// user message as <c>system + "\n" + content</c>. What else a template renders (tools, tool calls, tool results) is
/// found the same way and reported, for callers that polyfill it (<see cref="ChatTemplateProbes"/>).
/// </summary>
public sealed class ChatTemplate
{
    private ChatTemplate(JinjaTemplate template)
    {
        Template = template;
        SupportsSystemRole = ChatTemplateProbes.SystemRole(template);
        SupportsTools = ChatTemplateProbes.Tools(template);
        SupportsToolCalls = ChatTemplateProbes.ToolCalls(template);
        SupportsToolResponses = ChatTemplateProbes.ToolResponses(template);
        RequiresNineCharacterToolCallIds = SupportsToolCalls && ChatTemplateProbes.RequiresNineCharacterToolCallIds(template);
    }

    /// <summary>The underlying Jinja template.</summary>
    public JinjaTemplate Template { get; }

    /// <summary>Whether rendering [system, user] succeeds and shows the system content; otherwise system messages are merged.</summary>
    public bool SupportsSystemRole { get; }

    /// <summary>Whether the template writes the `tools` variable (a function's name passed in it shows in the prompt).</summary>
    public bool SupportsTools { get; }

    /// <summary>Whether an assistant message's `tool_calls` (OpenAI objects, arguments as an object) show in the prompt.</summary>
    public bool SupportsToolCalls { get; }

    /// <summary>Whether a `tool` message's content shows in the prompt.</summary>
    public bool SupportsToolResponses { get; }

    /// <summary>
    /// Whether the template refuses tool call ids other than 9 alphanumeric characters (Mistral's templates raise an
    /// exception for any other id), so ids handed to clients for it must have that shape.
    /// </summary>
    public bool RequiresNineCharacterToolCallIds { get; }

    /// <summary>Parses a chat template; a syntax error is a <see cref="TemplateException"/> with line and column.</summary>
    public static ChatTemplate Parse(string source, TemplateOptions? options = null) => new(JinjaTemplate.Parse(source, options));

    public string Render(
        IReadOnlyList<ChatMessage> messages,
        bool addGenerationPrompt,
        string bosToken,
        string eosToken,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var converted = new List<TemplateDict>(messages.Count);
        foreach (var message in messages)
        {
            ArgumentNullException.ThrowIfNull(message);
            converted.Add(new TemplateDict { ["role"] = message.Role, ["content"] = message.Content });
        }
        return RenderConverted(converted, addGenerationPrompt, bosToken, eosToken, extraVariables);
    }

    /// <summary>Renders messages with any fields (tool_calls, name, content parts...), given as plain .NET values or JsonElements.</summary>
    public string RenderDictionaries(
        IReadOnlyList<IReadOnlyDictionary<string, object?>> messages,
        bool addGenerationPrompt,
        string bosToken,
        string eosToken,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return RenderConverted([.. messages.Select(ToMessage)], addGenerationPrompt, bosToken, eosToken, extraVariables);
    }

    /// <summary>Renders an OpenAI-style JSON array of message objects; tools can be passed in <paramref name="extraVariables"/> as a JsonElement too.</summary>
    public string Render(
        JsonElement messages,
        bool addGenerationPrompt,
        string bosToken,
        string eosToken,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new ArgumentException($"messages must be a JSON array, not {messages.ValueKind}", nameof(messages));
        return RenderConverted([.. messages.EnumerateArray().Select(m => ToMessage(m))], addGenerationPrompt, bosToken, eosToken, extraVariables);
    }

    private static TemplateDict ToMessage(object? message) =>
        Values.FromDotNet(message) as TemplateDict ?? throw new ArgumentException("each message must be an object with 'role' and 'content'");

    private string RenderConverted(
        List<TemplateDict> messages,
        bool addGenerationPrompt,
        string bosToken,
        string eosToken,
        IReadOnlyDictionary<string, object?>? extraVariables)
    {
        ArgumentNullException.ThrowIfNull(bosToken);
        ArgumentNullException.ThrowIfNull(eosToken);
        if (!SupportsSystemRole) messages = MergeSystemMessages(messages);

        var variables = new List<KeyValuePair<string, object?>>();
        if (extraVariables is not null)
        {
            foreach (var (name, value) in extraVariables)
            {
                if (name is "messages" or "add_generation_prompt" or "bos_token" or "eos_token")
                {
                    throw new ArgumentException($"'{name}' is set by the chat template itself and cannot be an extra variable", nameof(extraVariables));
                }
                variables.Add(new(name, Values.FromDotNet(value)));
            }
        }
        variables.Add(new("messages", new TemplateList(messages)));
        variables.Add(new("add_generation_prompt", addGenerationPrompt));
        variables.Add(new("bos_token", bosToken));
        variables.Add(new("eos_token", eosToken));
        return Template.RenderConverted(variables);
    }

    /// <summary>
    /// llama.cpp's polyfill for templates without a system role: system content is held and prefixed to the next
    /// user message (system + "\n" + content); if a non-user message or the end comes first, it becomes a user message.
    /// </summary>
    private static List<TemplateDict> MergeSystemMessages(List<TemplateDict> messages)
    {
        var result = new List<TemplateDict>(messages.Count);
        string? pendingSystem = null;

        void Flush()
        {
            if (pendingSystem is null) return;
            result.Add(new TemplateDict { ["role"] = "user", ["content"] = pendingSystem });
            pendingSystem = null;
        }

        foreach (var message in messages)
        {
            var role = message.TryGetValue("role", out var r) ? r as string : null;
            var content = message.TryGetValue("content", out var c) ? c : null;
            if (role == "system" && content is string or null)
            {
                var text = content as string ?? "";
                pendingSystem = pendingSystem is null ? text : pendingSystem + "\n" + text;
                continue;
            }
            if (role == "user" && pendingSystem is not null && content is string or null)
            {
                var merged = new TemplateDict();
                foreach (var (key, value) in message) merged[key] = value;
                var text = content as string ?? "";
                merged["content"] = text.Length == 0 ? pendingSystem : pendingSystem + "\n" + text;
                pendingSystem = null;
                result.Add(merged);
                continue;
            }
            Flush();
            result.Add(message);
        }
        Flush();
        return result;
    }
}
