using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inkwell.Client.OpenAI;

// Shapes of OpenAI's /v1/chat/completions, /v1/completions and /v1/models, as TGI serves them.

public sealed record ChatCompletionMessage
{
    /// <summary>"system", "user", "assistant" or "tool".</summary>
    public required string Role { get; init; }
    public string? Content { get; init; }
    public string? Name { get; init; }

    public static ChatCompletionMessage System(string content) => new() { Role = "system", Content = content };
    public static ChatCompletionMessage User(string content) => new() { Role = "user", Content = content };
    public static ChatCompletionMessage Assistant(string content) => new() { Role = "assistant", Content = content };
}

public sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}

public sealed record ChatCompletionRequest
{
    public required string Model { get; init; }
    public required IReadOnlyList<ChatCompletionMessage> Messages { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? PresencePenalty { get; init; }
    public long? Seed { get; init; }
    public IReadOnlyList<string>? Stop { get; init; }
    public int? N { get; init; }
    public bool? Logprobs { get; init; }
    public int? TopLogprobs { get; init; }
    /// <summary>Set by the client: false for ChatCompletionAsync, true for the streaming call.</summary>
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
}

public sealed record Usage
{
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int TotalTokens { get; init; }
}

public sealed record ChatCompletionResponse
{
    public string Id { get; init; } = "";
    public string Object { get; init; } = "";
    public long Created { get; init; }
    public string Model { get; init; } = "";
    public string? SystemFingerprint { get; init; }
    public IReadOnlyList<ChatCompletionChoice> Choices { get; init; } = [];
    public Usage? Usage { get; init; }

    /// <summary>Set (and Choices empty) when the call failed under ReturnEmptyOnFailure.</summary>
    [JsonIgnore]
    public InferenceError? Error { get; init; }
}

public sealed record ChatCompletionChoice
{
    public int Index { get; init; }
    public ChatCompletionMessage Message { get; init; } = new() { Role = "assistant" };
    public JsonElement? Logprobs { get; init; }
    /// <summary>"stop", "length", ...</summary>
    public string? FinishReason { get; init; }
}

/// <summary>One event of a streamed chat completion.</summary>
public sealed record ChatCompletionChunk
{
    public string Id { get; init; } = "";
    public string Object { get; init; } = "";
    public long Created { get; init; }
    public string Model { get; init; } = "";
    public string? SystemFingerprint { get; init; }
    public IReadOnlyList<ChatCompletionChunkChoice> Choices { get; init; } = [];
    public Usage? Usage { get; init; }

    /// <summary>Set on a final, empty chunk when the stream failed under ReturnEmptyOnFailure.</summary>
    [JsonIgnore]
    public InferenceError? Error { get; init; }
}

public sealed record ChatCompletionChunkChoice
{
    public int Index { get; init; }
    public ChatCompletionDelta Delta { get; init; } = new();
    public JsonElement? Logprobs { get; init; }
    public string? FinishReason { get; init; }
}

public sealed record ChatCompletionDelta
{
    public string? Role { get; init; }
    public string? Content { get; init; }
}

public sealed record CompletionRequest
{
    public required string Model { get; init; }
    public required string Prompt { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? RepetitionPenalty { get; init; }
    public long? Seed { get; init; }
    public IReadOnlyList<string>? Stop { get; init; }
    public bool? Echo { get; init; }
    /// <summary>Set by the client.</summary>
    public bool? Stream { get; init; }
}

/// <summary>Answer of /v1/completions, and the shape of each of its stream events.</summary>
public sealed record CompletionResponse
{
    public string Id { get; init; } = "";
    public string Object { get; init; } = "";
    public long Created { get; init; }
    public string Model { get; init; } = "";
    public string? SystemFingerprint { get; init; }
    public IReadOnlyList<CompletionChoice> Choices { get; init; } = [];
    public Usage? Usage { get; init; }

    /// <summary>Set (and Choices empty) when the call failed under ReturnEmptyOnFailure.</summary>
    [JsonIgnore]
    public InferenceError? Error { get; init; }
}

public sealed record CompletionChoice
{
    public int Index { get; init; }
    public string Text { get; init; } = "";
    public JsonElement? Logprobs { get; init; }
    public string? FinishReason { get; init; }
}

public sealed record ModelList
{
    public string Object { get; init; } = "list";
    public IReadOnlyList<ModelCard> Data { get; init; } = [];
}

public sealed record ModelCard
{
    public string Id { get; init; } = "";
    public string Object { get; init; } = "model";
    public long Created { get; init; }
    public string? OwnedBy { get; init; }
}
