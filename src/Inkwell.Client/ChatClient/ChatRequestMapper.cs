using System.Text.Json;
using Inkwell.Client.OpenAI;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.ChatClient;

/// <summary>Microsoft.Extensions.AI messages and ChatOptions to an OpenAI /v1/chat/completions request. Every option
/// is either sent or refused with NotSupportedException: a setting the server never sees must not look honoured.</summary>
internal static class ChatRequestMapper
{
    public static ChatCompletionRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options, string defaultModel)
    {
        ArgumentNullException.ThrowIfNull(messages);
        RefuseUncarriedOptions(options);
        var wire = new List<ChatCompletionMessage>();
        if (!string.IsNullOrEmpty(options?.Instructions)) wire.Add(ChatCompletionMessage.System(options.Instructions));
        foreach (var message in messages) AddWireMessages(message, wire);

        var tools = ToWireTools(options?.Tools);
        return new ChatCompletionRequest
        {
            Model = options?.ModelId ?? defaultModel,
            Messages = wire,
            MaxTokens = options?.MaxOutputTokens,
            Temperature = options?.Temperature,
            TopP = options?.TopP,
            TopK = options?.TopK,
            FrequencyPenalty = options?.FrequencyPenalty,
            PresencePenalty = options?.PresencePenalty,
            Seed = options?.Seed,
            Stop = options?.StopSequences is { Count: > 0 } stop ? [.. stop] : null,
            ResponseFormat = ToWireResponseFormat(options?.ResponseFormat),
            Tools = tools,
            ToolChoice = ToWireToolChoice(options?.ToolMode, hasTools: tools is not null),
            // A permission about calls: with no tools there is nothing for it to permit (and the server refuses it alone).
            ParallelToolCalls = tools is not null ? options?.AllowMultipleToolCalls : null,
        };
    }

    /// <summary>The ChatOptions members /v1/chat/completions has no field for.</summary>
    private static void RefuseUncarriedOptions(ChatOptions? options)
    {
        if (options is null) return;
        if (options.ConversationId is not null)
            throw new NotSupportedException("InkwellChatClient does not support ChatOptions.ConversationId: /v1/chat/completions keeps no conversation state; send the whole conversation.");
        // Experimental members (MEAI001): read only to refuse them, so a change to them cannot make us honour them silently.
#pragma warning disable MEAI001
        if (options.AllowBackgroundResponses == true)
            throw new NotSupportedException("InkwellChatClient does not support ChatOptions.AllowBackgroundResponses: the server answers in the request.");
        if (options.ContinuationToken is not null)
            throw new NotSupportedException("InkwellChatClient does not support ChatOptions.ContinuationToken: the server has no background responses to continue.");
#pragma warning restore MEAI001
        if (options.RawRepresentationFactory is not null)
            throw new NotSupportedException("InkwellChatClient does not support ChatOptions.RawRepresentationFactory; use OpenAIClient.ChatCompletionAsync with a ChatCompletionRequest for fields ChatOptions lacks.");
        if (options.AdditionalProperties is { Count: > 0 } extra)
            throw new NotSupportedException(
                $"InkwellChatClient does not support ChatOptions.AdditionalProperties ({string.Join(", ", extra.Keys)}); use OpenAIClient.ChatCompletionAsync with a ChatCompletionRequest for fields ChatOptions lacks.");
    }

    /// <summary>One ChatMessage becomes one wire message (text and function calls), plus one "tool" message per
    /// function result, which the wire carries as messages of their own.</summary>
    private static void AddWireMessages(ChatMessage message, List<ChatCompletionMessage> wire)
    {
        var unsupported = message.Contents.Where(c => c is not (TextContent or FunctionCallContent or FunctionResultContent)).ToList();
        if (unsupported.Count > 0)
            throw new NotSupportedException(
                $"InkwellChatClient sends text, function calls and function results only; a {message.Role} message holds {string.Join(", ", unsupported.Select(c => c.GetType().Name).Distinct())}.");

        var calls = message.Contents.OfType<FunctionCallContent>().Select(ToWireCall).ToList();
        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        bool hasText = message.Contents.OfType<TextContent>().Any();
        if (hasText || calls.Count > 0 || results.Count == 0)
        {
            wire.Add(new ChatCompletionMessage
            {
                Role = message.Role.Value,
                // OpenAI's shape for a message that only calls: content null, not "".
                Content = calls.Count > 0 && !hasText ? null : message.Text,
                Name = message.AuthorName,
                ToolCalls = calls.Count > 0 ? calls : null,
            });
        }
        foreach (var result in results)
            wire.Add(new ChatCompletionMessage { Role = "tool", ToolCallId = result.CallId, Content = ResultText(result.Result) });
    }

    private static ChatCompletionToolCall ToWireCall(FunctionCallContent call) => new()
    {
        Id = call.CallId,
        Function = new FunctionCall { Name = call.Name, Arguments = FunctionCallJson.SerializeArguments(call.Arguments) },
    };

    /// <summary>A tool message's content is text: a string result as it is, anything else as JSON (what OpenAI's
    /// Microsoft.Extensions.AI adapter sends); no result is empty text.</summary>
    private static string ResultText(object? result) => result switch
    {
        null => "",
        string text => text,
        _ => FunctionCallJson.SerializeResult(result),
    };

    private static List<ChatCompletionTool>? ToWireTools(IList<AITool>? tools)
    {
        if (tools is not { Count: > 0 }) return null;
        var other = tools.Where(t => t is not AIFunctionDeclaration).ToList();
        if (other.Count > 0)
            throw new NotSupportedException(
                $"InkwellChatClient sends function tools only (AIFunctionDeclaration / AIFunction); ChatOptions.Tools holds {string.Join(", ", other.Select(t => $"{t.GetType().Name} '{t.Name}'"))}.");
        return [.. tools.Cast<AIFunctionDeclaration>().Select(function => new ChatCompletionTool
        {
            Function = new FunctionDefinition
            {
                Name = function.Name,
                Description = string.IsNullOrEmpty(function.Description) ? null : function.Description,
                // A declaration without a schema takes any object, which is what an absent "parameters" means.
                Parameters = function.JsonSchema.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : function.JsonSchema,
            },
        })];
    }

    private static ChatCompletionToolChoice? ToWireToolChoice(ChatToolMode? mode, bool hasTools) => mode switch
    {
        RequiredChatToolMode { RequiredFunctionName: { } name } => ChatCompletionToolChoice.Function(name),
        // Sent even without tools, so the server refuses the impossible request rather than answering without a call.
        RequiredChatToolMode => ChatCompletionToolChoice.Required,
        NoneChatToolMode => hasTools ? ChatCompletionToolChoice.None : null,
        null or AutoChatToolMode => hasTools ? ChatCompletionToolChoice.Auto : null,
        _ => throw new NotSupportedException($"InkwellChatClient does not support the tool mode {mode.GetType().Name}."),
    };

    private static ChatCompletionResponseFormat? ToWireResponseFormat(ChatResponseFormat? format) => format switch
    {
        null or ChatResponseFormatText => null, // plain text is the server's default
        ChatResponseFormatJson { Schema: { } schema } json => new ChatCompletionResponseFormat
        {
            Type = "json_schema",
            JsonSchema = new JsonSchemaFormat
            {
                // OpenAI requires a name; Microsoft.Extensions.AI's OpenAI adapter uses this one when none is given.
                Name = json.SchemaName ?? "json_schema",
                Description = json.SchemaDescription,
                Schema = schema,
            },
        },
        ChatResponseFormatJson => new ChatCompletionResponseFormat { Type = "json_object" },
        _ => throw new NotSupportedException($"InkwellChatClient does not support the response format {format.GetType().Name}."),
    };
}
