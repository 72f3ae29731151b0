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
    /// <summary>TGIS gRPC port (fmaas.GenerationService); null serves no gRPC. `inkwell serve` defaults it to 8033 as TGIS; 0 picks a free port.</summary>
    public int? GrpcPort { get; init; }
    /// <summary>TLS for both listeners (TLS_CERT_PATH, TLS_KEY_PATH, TLS_CLIENT_CA_CERT_PATH); null is cleartext.</summary>
    public Tls.TlsOptions? Tls { get; init; }
    /// <summary>TGIS prompt tuning: prefix_id names PromptPrefixDir/&lt;prefix_id&gt;.safetensors; null disables prefixes.</summary>
    public string? PromptPrefixDir { get; init; }
    /// <summary>TGI's --lora-adapters: (name, path) of each LoRA adapter requests may select; loaded and checked at startup.</summary>
    public IReadOnlyList<(string Name, string Path)> LoraAdapters { get; init; } = [];
    /// <summary>Upper bound on a TGIS request's max_new_tokens (TGIS --max-new-tokens, default 1024).</summary>
    public int GrpcMaxNewTokens { get; init; } = 1024;
    /// <summary>TGI's --payload-limit: the largest request body in bytes; larger ones get 413 in the API's shape.</summary>
    public long PayloadLimit { get; init; } = 2_000_000;
    /// <summary>--shutdown-grace-period: how long running generations may finish after SIGTERM before they are ended with an error event.</summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>--api-key (API_KEY): every API route wants "Authorization: Bearer &lt;key&gt;"; null leaves them open.</summary>
    public string? ApiKey { get; init; }
    /// <summary>--cors-allow-origin: origins a browser may call the HTTP APIs from ("*" for any); empty sends no CORS headers.</summary>
    public IReadOnlyList<string> CorsAllowOrigins { get; init; } = [];
    /// <summary>--otlp-endpoint: where OpenTelemetry traces go (an OTLP collector); null traces nothing.</summary>
    public string? OtlpEndpoint { get; init; }
    /// <summary>--otlp-protocol: grpc (TGI's, the default) or http/protobuf (then the endpoint is the full /v1/traces URL).</summary>
    public string OtlpProtocol { get; init; } = "grpc";
    /// <summary>--otlp-service-name: the service.name resource attribute of the traces (TGI's default).</summary>
    public string OtlpServiceName { get; init; } = "text-generation-inference.router";
    /// <summary>--json-output: log lines as JSON objects (one per line) instead of text.</summary>
    public bool JsonOutput { get; init; }
    /// <summary>TGI's --speculate: most draft tokens per request and step (prompt lookup unless DraftModelPath); null = off, or 5 with a draft model.</summary>
    public int? Speculate { get; init; }
    /// <summary>A GGUF/llama2.c/Hugging Face model over the same vocabulary that drafts for the served one (llama-server's --model-draft).</summary>
    public string? DraftModelPath { get; init; }
}
