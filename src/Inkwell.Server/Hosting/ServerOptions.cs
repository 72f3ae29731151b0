namespace Inkwell.Server.Hosting;

/// <summary>The launcher's options, named as TGI's (flags --max-concurrent-requests etc., env MAX_CONCURRENT_REQUESTS).</summary>
public sealed record ServerOptions
{
    public string? ModelId { get; init; }
    public string? TokenizerPath { get; init; }
    public string Hostname { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 3000;
    public int MaxConcurrentRequests { get; init; } = 128;
    public int MaxBestOf { get; init; } = 2;
    public int MaxStopSequences { get; init; } = 4;
    public int MaxTopNTokens { get; init; } = 5;
    public int? MaxInputTokens { get; init; }
    public int? MaxTotalTokens { get; init; }
    public int MaxBatchPrefillTokens { get; init; } = 4096;
    public int? MaxBatchTotalTokens { get; init; }
    public int? MaxBatchSize { get; init; }
    /// <summary>Accepted for TGI compatibility; prefill and decode share every step here, so new requests never wait for these.</summary>
    public float WaitingServedRatio { get; init; } = 0.3f;
    public int MaxWaitingTokens { get; init; } = 20;
    public string? Quantize { get; init; }
    public string? Dtype { get; init; }
    public int NumThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    public bool PrefixCaching { get; init; } = true;
    public int BlockSize { get; init; } = 16;
    public string? ChatTemplatePath { get; init; }
}
