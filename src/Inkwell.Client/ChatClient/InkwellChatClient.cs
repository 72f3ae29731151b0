using System.Runtime.CompilerServices;
using Inkwell.Client.OpenAI;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.ChatClient;

/// <summary>Microsoft.Extensions.AI IChatClient over an OpenAI-compatible /v1/chat/completions route.
/// Text only: non-text content (images, tool calls) is rejected rather than silently dropped.</summary>
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
        var request = ToRequest(messages, options);
        var response = await _client.ChatCompletionAsync(request, null, cancellationToken).ConfigureAwait(false);
        if (response.Error is { } error) throw new InferenceClientException(error, isTransient: false);
        var choice = response.Choices.Count > 0 ? response.Choices[0] : null;
        var message = new ChatMessage(ToRole(choice?.Message.Role), choice?.Message.Content ?? "") { MessageId = response.Id };
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
        var request = ToRequest(messages, options);
        await foreach (var chunk in _client.ChatCompletionStreamAsync(request, null, cancellationToken).ConfigureAwait(false))
        {
            if (chunk.Error is { } error) throw new InferenceClientException(error, isTransient: false);
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
            if (ToUsage(chunk.Usage) is { } usage) update.Contents.Add(new UsageContent(usage));
            yield return update;
        }
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

    private ChatCompletionRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var wire = new List<ChatCompletionMessage>();
        if (!string.IsNullOrEmpty(options?.Instructions)) wire.Add(ChatCompletionMessage.System(options.Instructions));
        foreach (var message in messages)
        {
            if (message.Contents.Any(c => c is not TextContent))
                throw new NotSupportedException(
                    $"InkwellChatClient sends text only; a {message.Role} message holds {string.Join(", ", message.Contents.Where(c => c is not TextContent).Select(c => c.GetType().Name).Distinct())}.");
            wire.Add(new ChatCompletionMessage { Role = message.Role.Value, Content = message.Text, Name = message.AuthorName });
        }
        return new ChatCompletionRequest
        {
            Model = options?.ModelId ?? DefaultModel,
            Messages = wire,
            MaxTokens = options?.MaxOutputTokens,
            Temperature = options?.Temperature,
            TopP = options?.TopP,
            FrequencyPenalty = options?.FrequencyPenalty,
            PresencePenalty = options?.PresencePenalty,
            Seed = options?.Seed,
            Stop = options?.StopSequences is { Count: > 0 } stop ? [.. stop] : null,
        };
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
