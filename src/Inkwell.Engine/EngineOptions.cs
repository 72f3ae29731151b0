using Inkwell.Engine.Scheduling;

namespace Inkwell.Engine;

public sealed record EngineOptions
{
    /// <summary>KV cache capacity in tokens (TGI's max_batch_total_tokens); rounded up to whole blocks.</summary>
    public int KvCacheTokens { get; init; } = 16384;
    public int BlockSize { get; init; } = 16;
    public bool PrefixCaching { get; init; } = true;
    public SchedulerOptions Scheduler { get; init; } = new();
    /// <summary>Speculative decoding (draft tokens verified in the same forward pass); null = off.</summary>
    public Speculation.SpeculationOptions? Speculation { get; init; }
}
