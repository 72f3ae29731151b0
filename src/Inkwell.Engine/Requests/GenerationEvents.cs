namespace Inkwell.Engine.Requests;

/// <summary>One generated or prompt token as reported to clients.</summary>
public readonly record struct TokenInfo(int Id, string Text, float LogProb, bool Special);

/// <summary>What a request's output channel carries: tokens as they come, then one Finished (or an Error).</summary>
public abstract record GenerationEvent;

/// <summary>A new token; on the last one Final carries the result too, so a stream can end without waiting.</summary>
public sealed record TokenGenerated(TokenInfo Token, IReadOnlyList<TokenInfo>? TopTokens, int Index, GenerationResult? Final = null) : GenerationEvent;

public sealed record GenerationFinished(GenerationResult Result) : GenerationEvent;

public sealed record GenerationFailed(string Message) : GenerationEvent;

public sealed record GenerationResult
{
    public required string GeneratedText { get; init; }
    public required FinishReason FinishReason { get; init; }
    public required IReadOnlyList<TokenInfo> Tokens { get; init; }
    public IReadOnlyList<IReadOnlyList<TokenInfo>>? TopTokens { get; init; }
    public IReadOnlyList<TokenInfo>? Prefill { get; init; }
    public string? StopSequence { get; init; }
    public ulong? Seed { get; init; }
    public int PromptTokenCount { get; init; }
    public TimeSpan QueueTime { get; init; }
    public TimeSpan InferenceTime { get; init; }
    public TimeSpan TimeToFirstToken { get; init; }
    public int GeneratedTokenCount => Tokens.Count;
}
