using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inkwell.Client.OpenAI;

// Shapes of OpenAI's /v1/chat/completions, /v1/completions and /v1/models, as TGI serves them.

public sealed record ChatCompletionMessage
{
    /// <summary>"system", "user", "assistant" or "tool".</summary>
    public required string Role { get; init; }
    /// <summary>Null on an assistant message that only calls tools.</summary>
    public string? Content { get; init; }
    public string? Name { get; init; }
    /// <summary>The functions an assistant message calls.</summary>
    public IReadOnlyList<ChatCompletionToolCall>? ToolCalls { get; init; }
    /// <summary>On a "tool" message: the id of the call whose result this is.</summary>
    public string? ToolCallId { get; init; }

    public static ChatCompletionMessage System(string content) => new() { Role = "system", Content = content };
    public static ChatCompletionMessage User(string content) => new() { Role = "user", Content = content };
    public static ChatCompletionMessage Assistant(string content) => new() { Role = "assistant", Content = content };
}

/// <summary>A function the model may call: {"type": "function", "function": {...}}.</summary>
public sealed record ChatCompletionTool
{
    public string Type { get; init; } = "function";
    public required FunctionDefinition Function { get; init; }
}

public sealed record FunctionDefinition
{
    /// <summary>[a-zA-Z0-9_-]{1,64}, unique among the request's tools.</summary>
    public required string Name { get; init; }
    public string? Description { get; init; }
    /// <summary>A JSON schema object for the arguments; absent: any object.</summary>
    public JsonElement? Parameters { get; init; }
}

/// <summary>A call in an assistant message: arguments as JSON text, as OpenAI sends them.</summary>
public sealed record ChatCompletionToolCall
{
    public required string Id { get; init; }
    public string Type { get; init; } = "function";
    public required FunctionCall Function { get; init; }
}

public sealed record FunctionCall
{
    public required string Name { get; init; }
    /// <summary>A JSON object as text.</summary>
    public required string Arguments { get; init; }
}

/// <summary>A streamed piece of a call: the first for an index carries id, type and name; later ones add arguments.</summary>
public sealed record ChatCompletionToolCallDelta
{
    public int Index { get; init; }
    public string? Id { get; init; }
    public string? Type { get; init; }
    public FunctionCallDelta? Function { get; init; }
}

public sealed record FunctionCallDelta
{
    public string? Name { get; init; }
    public string? Arguments { get; init; }
}

/// <summary>tool_choice: "none", "auto", "required", or {"type": "function", "function": {"name": ...}}.</summary>
[JsonConverter(typeof(ChatCompletionToolChoiceConverter))]
public sealed record ChatCompletionToolChoice
{
    private ChatCompletionToolChoice(string? mode, string? functionName) => (Mode, FunctionName) = (mode, functionName);

    /// <summary>"none", "auto" or "required"; null when a function is named.</summary>
    public string? Mode { get; }
    public string? FunctionName { get; }

    public static ChatCompletionToolChoice None { get; } = new("none", null);
    public static ChatCompletionToolChoice Auto { get; } = new("auto", null);
    public static ChatCompletionToolChoice Required { get; } = new("required", null);
    public static ChatCompletionToolChoice Function(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new(null, name);
    }

    internal static ChatCompletionToolChoice FromMode(string mode) => mode switch
    {
        "none" => None,
        "auto" => Auto,
        "required" => Required,
        _ => throw new JsonException($"unknown tool_choice '{mode}'"),
    };
}

/// <summary>response_format: {"type": "text" | "json_object"} or {"type": "json_schema", "json_schema": {...}}.</summary>
public sealed record ChatCompletionResponseFormat
{
    public required string Type { get; init; }
    public JsonSchemaFormat? JsonSchema { get; init; }
}

public sealed record JsonSchemaFormat
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required JsonElement Schema { get; init; }
    public bool? Strict { get; init; }
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
    /// <summary>vLLM's extension (Inkwell accepts it): sample from the k most likely tokens; 0 or -1: off.</summary>
    public int? TopK { get; init; }
    public ChatCompletionResponseFormat? ResponseFormat { get; init; }
    public IReadOnlyList<ChatCompletionTool>? Tools { get; init; }
    /// <summary>Only with Tools (the server refuses it otherwise); the server's default is "auto".</summary>
    public ChatCompletionToolChoice? ToolChoice { get; init; }
    /// <summary>Only with Tools: whether the model may answer with more than one call.</summary>
    public bool? ParallelToolCalls { get; init; }
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
    public IReadOnlyList<ChatCompletionToolCallDelta>? ToolCalls { get; init; }
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

internal sealed class ChatCompletionToolChoiceConverter : JsonConverter<ChatCompletionToolChoice>
{
    public override ChatCompletionToolChoice Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return ChatCompletionToolChoice.FromMode(reader.GetString()!);
        using var doc = JsonDocument.ParseValue(ref reader);
        return ChatCompletionToolChoice.Function(doc.RootElement.GetProperty("function").GetProperty("name").GetString()!);
    }

    public override void Write(Utf8JsonWriter writer, ChatCompletionToolChoice value, JsonSerializerOptions options)
    {
        if (value.Mode is { } mode)
        {
            writer.WriteStringValue(mode);
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("type", "function");
        writer.WriteStartObject("function");
        writer.WriteString("name", value.FunctionName);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
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
