using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inkwell.Client.Tgi;

// Shapes of text-generation-inference's REST API (router/src/lib.rs); snake_case on the wire.

/// <summary>Body of POST /generate, /generate_stream and /tokenize.</summary>
public sealed record GenerateRequest
{
    public required string Inputs { get; init; }

    public GenerateParameters? Parameters { get; init; }
}

/// <summary>Sampling and output options; null means "server default".</summary>
public sealed record GenerateParameters
{
    public int? BestOf { get; init; }
    public float? Temperature { get; init; }
    public float? RepetitionPenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public int? TopK { get; init; }
    public float? TopP { get; init; }
    public float? TypicalP { get; init; }
    public bool? DoSample { get; init; }
    public int? MaxNewTokens { get; init; }
    public bool? ReturnFullText { get; init; }
    public IReadOnlyList<string>? Stop { get; init; }
    public int? Truncate { get; init; }
    public bool? Watermark { get; init; }
    public bool? Details { get; init; }
    public bool? DecoderInputDetails { get; init; }
    public ulong? Seed { get; init; }
    public int? TopNTokens { get; init; }
    public Grammar? Grammar { get; init; }
    public string? AdapterId { get; init; }
}

/// <summary>A constraint on the output: {"type": "json", "value": schema} or {"type": "regex", "value": pattern}.</summary>
public sealed record Grammar
{
    public required string Type { get; init; }
    public required JsonElement Value { get; init; }

    public static Grammar Regex(string pattern) => new() { Type = "regex", Value = JsonSerializer.SerializeToElement(pattern, ClientJsonContext.Default.String) };

    /// <param name="jsonSchema">A JSON schema document, as text.</param>
    public static Grammar Json(string jsonSchema)
    {
        using var doc = JsonDocument.Parse(jsonSchema);
        return new() { Type = "json", Value = doc.RootElement.Clone() };
    }
}

/// <summary>Answer of POST /generate.</summary>
public sealed record GenerateResponse
{
    public string GeneratedText { get; init; } = "";
    public GenerateDetails? Details { get; init; }

    /// <summary>Set (and GeneratedText empty) when the call failed under ReturnEmptyOnFailure.</summary>
    [JsonIgnore]
    public InferenceError? Error { get; init; }
}

public sealed record GenerateDetails
{
    /// <summary>"length", "eos_token" or "stop_sequence".</summary>
    public string FinishReason { get; init; } = "";
    public int GeneratedTokens { get; init; }
    public ulong? Seed { get; init; }
    public IReadOnlyList<PrefillToken>? Prefill { get; init; }
    public IReadOnlyList<Token>? Tokens { get; init; }
    public IReadOnlyList<IReadOnlyList<Token>>? TopTokens { get; init; }
    public IReadOnlyList<BestOfSequence>? BestOfSequences { get; init; }
}

public sealed record BestOfSequence
{
    public string GeneratedText { get; init; } = "";
    public string FinishReason { get; init; } = "";
    public int GeneratedTokens { get; init; }
    public ulong? Seed { get; init; }
    public IReadOnlyList<PrefillToken>? Prefill { get; init; }
    public IReadOnlyList<Token>? Tokens { get; init; }
    public IReadOnlyList<IReadOnlyList<Token>>? TopTokens { get; init; }
}

public sealed record PrefillToken
{
    public int Id { get; init; }
    public string Text { get; init; } = "";
    /// <summary>Null for the first prompt token, which has no prediction.</summary>
    public float? Logprob { get; init; }
}

public sealed record Token
{
    public int Id { get; init; }
    public string Text { get; init; } = "";
    public float? Logprob { get; init; }
    public bool Special { get; init; }
}

/// <summary>One event of POST /generate_stream. The last one carries GeneratedText and Details.</summary>
public sealed record StreamResponse
{
    public int Index { get; init; }
    public Token Token { get; init; } = new();
    public IReadOnlyList<Token>? TopTokens { get; init; }
    public string? GeneratedText { get; init; }
    public StreamDetails? Details { get; init; }

    /// <summary>Set on a final, empty event when the stream failed under ReturnEmptyOnFailure.</summary>
    [JsonIgnore]
    public InferenceError? Error { get; init; }
}

public sealed record StreamDetails
{
    public string FinishReason { get; init; } = "";
    public int GeneratedTokens { get; init; }
    public ulong? Seed { get; init; }
    public int? InputLength { get; init; }
}

/// <summary>One token of POST /tokenize: its id, text and character span in the input.</summary>
public sealed record SimpleToken
{
    public int Id { get; init; }
    public string Text { get; init; } = "";
    public int Start { get; init; }
    public int Stop { get; init; }
}

/// <summary>Answer of GET /info.</summary>
public sealed record ServerInfo
{
    public string ModelId { get; init; } = "";
    public string? ModelSha { get; init; }
    public string? ModelDtype { get; init; }
    public string? ModelDeviceType { get; init; }
    public string? ModelPipelineTag { get; init; }
    public int? MaxConcurrentRequests { get; init; }
    public int? MaxBestOf { get; init; }
    public int? MaxStopSequences { get; init; }
    public int? MaxInputTokens { get; init; }
    public int? MaxTotalTokens { get; init; }
    public int? ValidationWorkers { get; init; }
    public int? MaxClientBatchSize { get; init; }
    public string? Router { get; init; }
    public string? Version { get; init; }
    public string? Sha { get; init; }
    public string? DockerLabel { get; init; }
}
