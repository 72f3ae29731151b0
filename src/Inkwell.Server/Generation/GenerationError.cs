namespace Inkwell.Server.Generation;

/// <summary>Why the generation service refused or failed a request; each front end maps these to its status codes once.</summary>
public enum GenerationErrorKind
{
    /// <summary>A parameter or the prompt is not acceptable (TGI 422, OpenAI 400, gRPC INVALID_ARGUMENT).</summary>
    InvalidRequest,
    /// <summary>Prompt plus requested tokens exceed the model's limits (OpenAI reports context_length_exceeded).</summary>
    ContextLength,
    /// <summary>No permit left (TGI and OpenAI 429, gRPC RESOURCE_EXHAUSTED).</summary>
    Overloaded,
    /// <summary>The engine failed the request after it started (TGI 424, OpenAI 500, gRPC UNKNOWN).</summary>
    GenerationFailed,
    /// <summary>The engine is not running (503, gRPC UNAVAILABLE).</summary>
    Unavailable,
}

/// <summary>A refused or failed generation. Param names the offending request field where one is to blame.</summary>
public sealed class GenerationException(GenerationErrorKind kind, string message, string? param = null) : Exception(message)
{
    public GenerationErrorKind Kind { get; } = kind;
    public string? Param { get; } = param;

    public const string OverloadedMessage = "Model is overloaded";

    public static GenerationException Invalid(string message, string? param = null) => new(GenerationErrorKind.InvalidRequest, message, param);
}
