using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Grpc;

/// <summary>
/// What the TGIS gRPC service needs from the engine. Requests arrive already validated (TGIS parameter rules and
/// defaults applied by <see cref="GenerationParameterValidator"/>); what needs the tokenizer (input length, the
/// sequence limit) is the generation service's (<see cref="Generation.GenerationService.MaxNewTokens"/>).
/// Throw <see cref="global::Grpc.Core.RpcException"/> for a specific status (INVALID_ARGUMENT for too-long inputs,
/// RESOURCE_EXHAUSTED "Model is overloaded" when the queue is full); other exceptions become UNKNOWN.
/// Honour the token: it fires when the client cancels or its deadline passes.
/// </summary>
public interface IGenerationBackend
{
    /// <summary>The model's kind and limits: answers ModelInfo and bounds max_new_tokens during validation.</summary>
    GenerationModelInfo ModelInfo { get; }

    /// <summary>Generates the whole response for one input. A batched Generate calls this once per input, concurrently.</summary>
    Task<GenerationResponse> GenerateAsync(ValidatedGenerationRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Streams one input as TGIS does: a first message with input_token_count (and input tokens/text if asked),
    /// then one message per new text piece, the last one carrying stop_reason and generated_token_count.
    /// </summary>
    IAsyncEnumerable<GenerationResponse> GenerateStreamAsync(ValidatedGenerationRequest request, CancellationToken cancellationToken);

    /// <summary>Tokenizes one text. A batched Tokenize calls this once per text, in order.</summary>
    Task<TokenizeResponse> TokenizeAsync(string text, TokenizeOptions options, CancellationToken cancellationToken);
}

/// <summary>The model facts ModelInfo reports; MaxNewTokens is also the upper bound validation enforces.</summary>
public sealed record GenerationModelInfo(ModelInfoResponse.Types.ModelKind Kind, int MaxSequenceLength, int MaxNewTokens);

/// <summary>From BatchedTokenizeRequest; TruncateInputTokens 0 means don't truncate.</summary>
public sealed record TokenizeOptions(bool ReturnTokens, bool ReturnOffsets, int TruncateInputTokens);

/// <summary>
/// A backend that takes a batched Generate's inputs together (TGIS: one permit check and one queue insertion for the
/// whole batch); the service prefers this over one <see cref="IGenerationBackend.GenerateAsync"/> per input.
/// </summary>
public interface IBatchGenerationBackend : IGenerationBackend
{
    /// <summary>Responses in input order; one failure fails (and cancels) the whole batch.</summary>
    Task<GenerationResponse[]> GenerateBatchAsync(IReadOnlyList<ValidatedGenerationRequest> requests, CancellationToken cancellationToken);
}
