using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inkwell.Server.Tgi;

// TGI's request and response shapes (router/src/lib.rs), field for field. JSON names are snake_case.

public sealed class GenerateRequestDto
{
    public string? Inputs { get; set; }
    public GenerateParametersDto? Parameters { get; set; }
    public bool Stream { get; set; }
}

public sealed class GenerateParametersDto
{
    public int? BestOf { get; set; }
    public float? Temperature { get; set; }
    public float? RepetitionPenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public int? TopK { get; set; }
    public float? TopP { get; set; }
    public float? TypicalP { get; set; }
    public bool DoSample { get; set; }
    public int? MaxNewTokens { get; set; }
    public bool? ReturnFullText { get; set; }
    public List<string>? Stop { get; set; }
    public int? Truncate { get; set; }
    public bool Watermark { get; set; }
    public bool Details { get; set; }
    public bool DecoderInputDetails { get; set; }
    public ulong? Seed { get; set; }
    public int? TopNTokens { get; set; }
    public GrammarDto? Grammar { get; set; }
    public string? AdapterId { get; set; }
    /// <summary>Not in TGI: suppress end-of-generation until this many tokens (vLLM's min_tokens).</summary>
    public int? MinNewTokens { get; set; }
    /// <summary>Not in TGI: never stop on an end-of-generation token (vLLM's ignore_eos).</summary>
    public bool IgnoreEos { get; set; }
    /// <summary>Not in TGI: token id (as a string key) to a bias added to its logit, as OpenAI's logit_bias.</summary>
    public Dictionary<string, float>? LogitBias { get; set; }
}

public sealed class GrammarDto
{
    public string? Type { get; set; }
    public JsonElement Value { get; set; }
}

public sealed record TokenDto(int Id, string Text, float? Logprob, bool Special);

public sealed record PrefillTokenDto(int Id, string Text, float? Logprob);

public sealed record BestOfSequenceDto(
    string GeneratedText, string FinishReason, int GeneratedTokens, ulong? Seed,
    IReadOnlyList<PrefillTokenDto> Prefill, IReadOnlyList<TokenDto> Tokens,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<IReadOnlyList<TokenDto>>? TopTokens);

public sealed record DetailsDto(
    string FinishReason, int GeneratedTokens, ulong? Seed, IReadOnlyList<PrefillTokenDto> Prefill, IReadOnlyList<TokenDto> Tokens,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<IReadOnlyList<TokenDto>>? TopTokens,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<BestOfSequenceDto>? BestOfSequences);

public sealed record GenerateResponseDto(
    string GeneratedText,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DetailsDto? Details);

public sealed record StreamDetailsDto(string FinishReason, int GeneratedTokens, ulong? Seed, int InputLength);

public sealed record StreamResponseDto(int Index, TokenDto Token, IReadOnlyList<TokenDto> TopTokens, string? GeneratedText, StreamDetailsDto? Details);

public sealed record SimpleTokenDto(int Id, string Text, int Start, int Stop);

public sealed record ErrorResponseDto(string Error, string ErrorType);

public sealed record InfoDto(
    string ModelId, string? ModelSha, string ModelDtype, string ModelDeviceType, string? ModelPipelineTag,
    int MaxConcurrentRequests, int MaxBestOf, int MaxStopSequences, int MaxInputTokens, int MaxTotalTokens,
    float WaitingServedRatio, int MaxBatchTotalTokens, int MaxWaitingTokens, int? MaxBatchSize,
    int ValidationWorkers, int MaxClientBatchSize, string Router, string Version, string? Sha, string? DockerLabel,
    // Not in TGI's /info: the LoRA adapters `adapter_id` may name (absent when none are loaded).
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? LoraAdapters = null);

public static class TgiJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
