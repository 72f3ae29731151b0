using System.Runtime.CompilerServices;
using Inkwell.Client.OpenAI;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.ChatClient;

/// <summary>Microsoft.Extensions.AI IChatClient over an OpenAI-compatible /v1/chat/completions route: text, function
/// tools (calls come back as FunctionCallContent, results go out as "tool" messages, so FunctionInvokingChatClient
/// works over it), top-k and JSON response formats. Other content (images, ...) and options the wire cannot carry
/// are refused with NotSupportedException rather than silently dropped.</summary>
public sealed class InkwellChatClient : IChatClient
{
    private readonly OpenAIClient _client;
    private readonly bool _ownsClient;
    private readonly ChatClientMetadata _metadata;

    /// <param name="defaultModel">Used when ChatOptions.ModelId is not set.</param>
    /// <param name="ownsClient">Dispose <paramref name="client"/> with this instance.</param>
    public InkwellChatClient(OpenAIClient client, string defaultModel, bool ownsClient = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(defaultModel);
        _client = client;
        _ownsClient = ownsClient;
        DefaultModel = defaultModel;
        _metadata = new ChatClientMetadata("inkwell", client.Options.BaseAddress, defaultModel);
    }

    public string DefaultModel { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = ChatRequestMapper.ToRequest(messages, options, DefaultModel);
        var response = await _client.ChatCompletionAsync(request, null, cancellationToken).ConfigureAwait(false);
        if (response.Error is { } error) throw new InferenceClientException(error, isTransient: false);
        var choice = response.Choices.Count > 0 ? response.Choices[0] : null;
        var message = new ChatMessage(ToRole(choice?.Message.Role), ToContents(choice?.Message)) { MessageId = response.Id };
        return new ChatResponse(message)
        {
            ResponseId = response.Id,
            ModelId = response.Model,
            CreatedAt = response.Created > 0 ? DateTimeOffset.FromUnixTimeSeconds(response.Created) : null,
            FinishReason = ToFinishReason(choice?.FinishReason),
            Usage = ToUsage(response.Usage),
            RawRepresentation = response,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ChatRequestMapper.ToRequest(messages, options, DefaultModel);
        var toolCalls = new StreamedToolCalls();
        ChatCompletionChunk? last = null;
        await foreach (var chunk in _client.ChatCompletionStreamAsync(request, null, cancellationToken).ConfigureAwait(false))
        {
            if (chunk.Error is { } error) throw new InferenceClientException(error, isTransient: false);
            last = chunk;
            var choice = chunk.Choices.Count > 0 ? chunk.Choices[0] : null;
            var update = new ChatResponseUpdate(ChatRole.Assistant, choice?.Delta.Content)
            {
                ResponseId = chunk.Id,
                MessageId = chunk.Id,
                ModelId = chunk.Model,
                CreatedAt = chunk.Created > 0 ? DateTimeOffset.FromUnixTimeSeconds(chunk.Created) : null,
                FinishReason = ToFinishReason(choice?.FinishReason),
                RawRepresentation = chunk,
            };
            foreach (var call in toolCalls.Add(choice?.Delta.ToolCalls, finished: choice?.FinishReason is not null)) update.Contents.Add(call);
            if (ToUsage(chunk.Usage) is { } usage) update.Contents.Add(new UsageContent(usage));
            yield return update;
        }
        // A stream that ended inside a call (no finish reason) still hands over what arrived of it.
        if (toolCalls.Flush() is { } open)
            yield return new ChatResponseUpdate(ChatRole.Assistant, [open]) { ResponseId = last?.Id, MessageId = last?.Id, ModelId = last?.Model };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(OpenAIClient)) return _client;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    /// <summary>A response message's text and calls; a message without calls keeps its text even when empty.</summary>
    private static List<AIContent> ToContents(ChatCompletionMessage? message)
    {
        var contents = new List<AIContent>();
        IReadOnlyList<ChatCompletionToolCall> calls = message?.ToolCalls ?? [];
        if (!string.IsNullOrEmpty(message?.Content) || calls.Count == 0) contents.Add(new TextContent(message?.Content ?? ""));
        foreach (var call in calls) contents.Add(FunctionCallJson.ToCallContent(call.Id, call.Function.Name, call.Function.Arguments));
        return contents;
    }

    private static ChatRole ToRole(string? role) => role is null or "" ? ChatRole.Assistant : new ChatRole(role);

    private static ChatFinishReason? ToFinishReason(string? reason) => reason switch
    {
        null or "" => null,
        "stop" or "eos_token" or "stop_sequence" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        "tool_calls" => ChatFinishReason.ToolCalls,
        "content_filter" => ChatFinishReason.ContentFilter,
        _ => new ChatFinishReason(reason),
    };

    private static UsageDetails? ToUsage(Usage? usage) => usage is null ? null : new UsageDetails
    {
        InputTokenCount = usage.PromptTokens,
        OutputTokenCount = usage.CompletionTokens,
        TotalTokenCount = usage.TotalTokens,
    };
}
