namespace Inkwell.Engine.Requests;

/// <summary>When a request stops. Validated upstream; MaxNewTokens is always set by then.</summary>
public sealed record StoppingParameters
{
    public int MaxNewTokens { get; init; } = 20;
    /// <summary>End-of-generation tokens are suppressed until this many tokens were generated.</summary>
    public int MinNewTokens { get; init; }
    public IReadOnlyList<string> StopSequences { get; init; } = [];
    /// <summary>Keep a matched stop sequence at the end of the text (TGI) or cut it off (OpenAI); TGIS lets the client choose.</summary>
    public bool IncludeStopSequence { get; init; } = true;
    /// <summary>Never stop on (nor sample) an end-of-generation token.</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>TGIS's time_limit_millis: stop with TIME_LIMIT after this long in the engine (0 = none).</summary>
    public TimeSpan TimeLimit { get; init; }
}

public enum FinishReason
{
    Length,
    EosToken,
    StopSequence,
    TimeLimit,
    Cancelled,
    Error,
}
