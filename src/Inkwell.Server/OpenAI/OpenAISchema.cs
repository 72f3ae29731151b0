using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inkwell.Server.OpenAI;

// OpenAI's request and response shapes (platform.openai.com/docs/api-reference), snake_case on the wire.
// Fields that take several JSON shapes (prompt, stop, content) stay JsonElement and are read by the validator.

public sealed class ChatCompletionRequestDto
{
    public string? Model { get; set; }
    public List<ChatMessageDto>? Messages { get; set; }
    public int? MaxTokens { get; set; }
    public int? MaxCompletionTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? N { get; set; }
    public JsonElement Stop { get; set; }
    public long? Seed { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }
    public bool? Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }
    public ResponseFormatDto? ResponseFormat { get; set; }
    public string? User { get; set; }
    /// <summary>Functions the model may call, tool_choice and parallel_tool_calls: read by Tools/ToolPlanParser.</summary>
    public JsonElement Tools { get; set; }
    public JsonElement ToolChoice { get; set; }
    public bool? ParallelToolCalls { get; set; }
    /// <summary>The deprecated function-calling fields, read only to refuse them (tools replaced them).</summary>
    public JsonElement Functions { get; set; }
    public JsonElement FunctionCall { get; set; }
    // vLLM's extensions for constrained generation (TGIS-style choice lists included).
    public List<string>? GuidedChoice { get; set; }
    public string? GuidedRegex { get; set; }
    public JsonElement GuidedJson { get; set; }
    // vLLM's extensions: no end-of-generation before min_tokens; none at all with ignore_eos.
    public int? MinTokens { get; set; }
    public bool? IgnoreEos { get; set; }
    public Dictionary<string, float>? LogitBias { get; set; }
    /// <summary>vLLM's: keep only the last this-many prompt tokens.</summary>
    public int? TruncatePromptTokens { get; set; }
    /// <summary>vLLM's sampling extensions: top-k (0 or -1: off) and the repetition penalty (1: off).</summary>
    public int? TopK { get; set; }
    public float? RepetitionPenalty { get; set; }
}

public sealed class CompletionRequestDto
{
    public string? Model { get; set; }
    public JsonElement Prompt { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? N { get; set; }
    public JsonElement Stop { get; set; }
    public long? Seed { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public int? Logprobs { get; set; }
    public bool? Echo { get; set; }
    public int? BestOf { get; set; }
    public string? Suffix { get; set; }
    public bool? Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }
    public ResponseFormatDto? ResponseFormat { get; set; }
    public string? User { get; set; }
    public List<string>? GuidedChoice { get; set; }
    public string? GuidedRegex { get; set; }
    public JsonElement GuidedJson { get; set; }
    // vLLM's extensions: no end-of-generation before min_tokens; none at all with ignore_eos.
    public int? MinTokens { get; set; }
    public bool? IgnoreEos { get; set; }
    public Dictionary<string, float>? LogitBias { get; set; }
    /// <summary>vLLM's: keep only the last this-many prompt tokens.</summary>
    public int? TruncatePromptTokens { get; set; }
    /// <summary>vLLM's sampling extensions: top-k (0 or -1: off) and the repetition penalty (1: off).</summary>
    public int? TopK { get; set; }
    public float? RepetitionPenalty { get; set; }
}

public sealed class ChatMessageDto
{
    public string? Role { get; set; }
    public JsonElement Content { get; set; }
    public string? Name { get; set; }
    public JsonElement ToolCalls { get; set; }
    public string? ToolCallId { get; set; }
}

public sealed class StreamOptionsDto
{
    public bool? IncludeUsage { get; set; }
}

public sealed class ResponseFormatDto
{
    public string? Type { get; set; }
    public JsonSchemaFormatDto? JsonSchema { get; set; }
}

public sealed class JsonSchemaFormatDto
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public JsonElement Schema { get; set; }
    public bool? Strict { get; set; }
}

public sealed record UsageDto(int PromptTokens, int CompletionTokens, int TotalTokens);

public sealed record ChatResponseMessageDto(
    string Role, string? Content, string? Refusal,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCallDto>? ToolCalls = null);

public sealed record FunctionCallDto(string Name, string Arguments);

/// <summary>A call in a response message: arguments as JSON text, as OpenAI sends them.</summary>
public sealed record ToolCallDto(string Id, string Type, FunctionCallDto Function);

public sealed record FunctionCallDeltaDto(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Arguments);

/// <summary>A streamed piece of a call: the first for an index carries id, type and name; later ones add arguments.</summary>
public sealed record ToolCallDeltaDto(
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Type,
    FunctionCallDeltaDto Function);

public sealed record TopLogprobDto(string Token, float Logprob, IReadOnlyList<int> Bytes);

public sealed record TokenLogprobDto(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<TopLogprobDto> TopLogprobs);

public sealed record ChatLogprobsDto(IReadOnlyList<TokenLogprobDto> Content, IReadOnlyList<TokenLogprobDto>? Refusal);

public sealed record ChatChoiceDto(int Index, ChatResponseMessageDto Message, ChatLogprobsDto? Logprobs, string FinishReason);

public sealed record ChatCompletionDto(
    string Id, string Object, long Created, string Model, string? SystemFingerprint,
    IReadOnlyList<ChatChoiceDto> Choices, UsageDto Usage);

public sealed record ChatDeltaDto(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCallDeltaDto>? ToolCalls = null);

public sealed record ChatChunkChoiceDto(int Index, ChatDeltaDto Delta, ChatLogprobsDto? Logprobs, string? FinishReason);

public sealed record ChatCompletionChunkDto(
    string Id, string Object, long Created, string Model, string? SystemFingerprint,
    IReadOnlyList<ChatChunkChoiceDto> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] OptionalUsage Usage);

/// <summary>Legacy completions' logprobs: parallel arrays, top_logprobs as {token: logprob} maps.</summary>
public sealed record CompletionLogprobsDto(
    IReadOnlyList<string> Tokens, IReadOnlyList<float?> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>> TopLogprobs, IReadOnlyList<int> TextOffset);

public sealed record CompletionChoiceDto(string Text, int Index, CompletionLogprobsDto? Logprobs, string? FinishReason);

public sealed record CompletionDto(
    string Id, string Object, long Created, string Model, string? SystemFingerprint,
    IReadOnlyList<CompletionChoiceDto> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] OptionalUsage Usage);

public sealed record ModelDto(string Id, string Object, long Created, string OwnedBy,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Parent = null);

public sealed record ModelListDto(string Object, IReadOnlyList<ModelDto> Data);

public sealed record OpenAIErrorBodyDto(string Message, string Type, string? Param, string? Code);

public sealed record OpenAIErrorDto(OpenAIErrorBodyDto Error);

/// <summary>
/// The usage field of a stream chunk: absent without include_usage; with it, null on every chunk but the last.
/// (Usage is a plain property on the other responses.)
/// </summary>
[JsonConverter(typeof(OptionalUsageConverter))]
public readonly record struct OptionalUsage(bool Present, UsageDto? Value)
{
    public static OptionalUsage Of(UsageDto? value) => new(true, value);
}

internal sealed class OptionalUsageConverter : JsonConverter<OptionalUsage>
{
    public override OptionalUsage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        OptionalUsage.Of(JsonSerializer.Deserialize<UsageDto>(ref reader, options));

    public override void Write(Utf8JsonWriter writer, OptionalUsage value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Value, options);
}

public static class OpenAIJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Plain UTF-8 and backticks as OpenAI writes them; these bodies are JSON for API clients, never HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
