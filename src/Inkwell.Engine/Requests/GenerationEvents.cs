namespace Inkwell.Engine.Requests;

/// <summary>One generated or prompt token as reported to clients; Rank is one-based when ranks were asked for, else 0.</summary>
public readonly record struct TokenInfo(int Id, string Text, float LogProb, bool Special, int Rank = 0);

/// <summary>What a request's stream carries: tokens as they come, then one Finished (or a Failed).</summary>
public abstract record GenerationEvent;

/// <summary>
/// A new token. Token.Text is the token's own piece of text; TextDelta is the text now safe to send: it holds back a
/// tail that may still become a stop sequence, and leaves out the stop sequence unless the request includes it.
/// On the last token Final carries the result too, so a stream can end without waiting.
/// </summary>
public sealed record TokenGenerated(TokenInfo Token, IReadOnlyList<TokenInfo>? TopTokens, int Index, string TextDelta, GenerationResult? Final = null) : GenerationEvent;

public sealed record GenerationFinished(GenerationResult Result) : GenerationEvent;

public sealed record GenerationFailed(string Message) : GenerationEvent;

public sealed record GenerationResult
{
    /// <summary>The generated text, ending with the matched stop sequence only when the request includes it.</summary>
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
