namespace Inkwell.Engine.Requests;

/// <summary>When a request stops. Validated upstream; MaxNewTokens is always set by then.</summary>
public sealed record StoppingParameters
{
    public int MaxNewTokens { get; init; } = 20;
    public int MinNewTokens { get; init; }
    public IReadOnlyList<string> StopSequences { get; init; } = [];
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
