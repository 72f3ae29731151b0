using System.Diagnostics;
using Inkwell.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell serve`: TGI's launcher flags and their environment variables (flag wins). No model = the embedded
/// stories260K; a local file or directory works as --model-id.
/// </summary>
public static class ServeCommand
{
    private const string Help = """
        usage: inkwell serve [--model-id PATH|ORG/NAME] [--revision R] [--hostname H] [--port P] [--max-concurrent-requests N]
                             [--max-input-tokens N] [--max-total-tokens N] [--max-batch-prefill-tokens N]
                             [--max-batch-total-tokens N] [--max-batch-size N] [--max-best-of N] [--max-stop-sequences N]
                             [--max-top-n-tokens N] [--waiting-served-ratio R] [--max-waiting-tokens N]
                             [--quantize Q] [--dtype D] [--num-threads N] [--tokenizer PATH] [--no-prefix-caching] [--block-size 16]
                             [--grpc-port P (8033)] [--tls-cert-path F --tls-key-path F [--tls-client-ca-cert-path F]]
                             [--prompt-prefix-dir DIR] [--max-new-tokens N (gRPC limit, 1024)] [--lora-adapters NAME=PATH,...]
                             [--speculate N] [--draft-model PATH] [--chat-template FILE] [--payload-limit BYTES (2000000)]
                             [--shutdown-grace-period SECONDS (30)] [--registry DIR [--gateway-memory-budget-mb N]]
                             [--api-key KEY] [--cors-allow-origin ORIGIN ...] [--json-output]
                             [--otlp-endpoint URL [--otlp-service-name NAME] [--otlp-protocol grpc|http/protobuf]]
        With --registry, serves every deployment of DIR's registry through one endpoint (the gateway):
        /models/{model}/generate|generate_stream|tokenize|info|health and /v1/... with the body's "model";
        local deployments load on first use, the least recently used unloaded when the budget would be exceeded.
        Each flag also reads its environment variable (MODEL_ID, HOSTNAME, PORT, MAX_CONCURRENT_REQUESTS, ...);
        MODEL_NAME (TGIS) is an alias of MODEL_ID, REVISION of --revision.
        --model-id org/name (TGI's form, e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0, or a GGUF repository with
        :QUANT) is taken from the Hugging Face cache or downloaded into it first (see inkwell download-weights --help).
        --shutdown-grace-period: after SIGTERM, /health answers 503 and new generations are refused at once; running
        ones get this long to finish, then end with an error event (gRPC: UNAVAILABLE) before the server stops.
        --hostname: the address to bind, 0.0.0.0 (every interface) by default as TGI; use 127.0.0.1 to serve this
        machine only. On any other address, set --api-key (API_KEY): every API route then wants
        "Authorization: Bearer KEY" (gRPC: metadata); /health, /live, /metrics, the playground (/), /docs and gRPC health
        stay open.
        --cors-allow-origin: an origin (https://host[:port], or *) a web page may call from; repeat it or give a
        comma list. Without it no CORS header is sent. --json-output: JSON log lines with trace ids.
        --otlp-endpoint: an OpenTelemetry collector (gRPC, e.g. http://localhost:4317; with --otlp-protocol
        http/protobuf the full /v1/traces URL) receiving a trace per request: generate, validate, queue, prefill, decode.
        With --registry both flags cover the whole gateway process: its request and replica logs, a server span per
        request with a client span per call to a replica (which receives its traceparent), and the local deployments.
        --lora-adapters (LORA_ADAPTERS): LoRA adapters over the model, each a PEFT directory or a GGUF adapter, chosen per
        request by TGI's parameters.adapter_id, OpenAI's "model" and TGIS's adapter_id; requests of different adapters
        share a batch. A bare PATH is named after its file or folder.
        --quantize q8_0|q4_0|q4_k|q6_k re-encodes f32/f16/bf16 weight matrices on load, as llama-quantize would.
        --speculate N: speculative decoding with up to N draft tokens per request and step, verified in the same
        forward pass: prompt lookup (n-gram matches in the request's own tokens), or with --draft-model PATH a
        smaller model over the same vocabulary (default N 5). Greedy output is unchanged; sampling keeps the target's
        distribution (rejection sampling).
        """ + "\n" + ModelOptions.ModelHelp;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string> { "no-prefix-caching", "json-output" });
        string? Opt(string flag, params string[] aliases) =>
            a.String(flag, aliases) ?? aliases.Prepend(flag).Select(f => Environment.GetEnvironmentVariable(f.Replace('-', '_').ToUpperInvariant())).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        int? Int(string flag, params string[] aliases) => Opt(flag, aliases) is { } s ? int.TryParse(s, out int v) ? v : throw new UsageException($"--{flag} must be an integer, got '{s}'") : null;
        float? Float(string flag) => Opt(flag) is { } s ? float.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out float v) ? v : throw new UsageException($"--{flag} must be a number, got '{s}'") : null;

        var d = new ServerOptions();
        int? grpcPort = Int("grpc-port");
        var options = new ServerOptions
        {
            ModelId = Opt("model-id", "model-name"),
            TokenizerPath = Opt("tokenizer"),
            Hostname = Opt("hostname") ?? d.Hostname,
            Port = Int("port") ?? d.Port,
            MaxConcurrentRequests = Int("max-concurrent-requests") ?? d.MaxConcurrentRequests,
            MaxBestOf = Int("max-best-of") ?? d.MaxBestOf,
            MaxStopSequences = Int("max-stop-sequences") ?? d.MaxStopSequences,
            MaxTopNTokens = Int("max-top-n-tokens") ?? d.MaxTopNTokens,
            MaxInputTokens = Int("max-input-tokens", "max-input-length"),
            MaxTotalTokens = Int("max-total-tokens"),
            MaxBatchPrefillTokens = Int("max-batch-prefill-tokens") ?? d.MaxBatchPrefillTokens,
            MaxBatchTotalTokens = Int("max-batch-total-tokens"),
            MaxBatchSize = Int("max-batch-size"),
            WaitingServedRatio = Float("waiting-served-ratio") ?? d.WaitingServedRatio,
            MaxWaitingTokens = Int("max-waiting-tokens") ?? d.MaxWaitingTokens,
            Quantize = Opt("quantize"),
            Dtype = Opt("dtype"),
            NumThreads = Int("num-threads", "num-shard") ?? d.NumThreads,
            GrpcPort = grpcPort ?? Server.Grpc.GrpcListener.DefaultPort,
            // TLS_CERT_PATH etc. or --tls-cert-path etc., for both listeners; half a configuration is an error.
            Tls = Tls(variable => Opt(variable.ToLowerInvariant().Replace('_', '-'))),
            PromptPrefixDir = Opt("prompt-prefix-dir"),
            LoraAdapters = Opt("lora-adapters") is { } lora ? LoraSpec(lora) : [],
            GrpcMaxNewTokens = Int("max-new-tokens") ?? d.GrpcMaxNewTokens,
            ChatTemplatePath = Opt("chat-template"),
            BlockSize = Int("block-size") ?? d.BlockSize,
            PayloadLimit = Opt("payload-limit") is { } limit
                ? long.TryParse(limit, out long bytes) && bytes > 0 ? bytes : throw new UsageException($"--payload-limit must be a positive integer (bytes), got '{limit}'")
                : d.PayloadLimit,
            ShutdownGracePeriod = Float("shutdown-grace-period") is { } grace
                ? float.IsFinite(grace) && grace >= 0 && grace <= 86_400 ? TimeSpan.FromSeconds(grace) : throw new UsageException($"--shutdown-grace-period must be between 0 and 86400 seconds, got {grace}")
                : d.ShutdownGracePeriod,
            Speculate = Int("speculate"),
            DraftModelPath = Opt("draft-model") is { } draftModel ? ModelOptions.Resolve(draftModel) : null,
            PrefixCaching = !a.Flag("no-prefix-caching") && Environment.GetEnvironmentVariable("NO_PREFIX_CACHING") is null or "" or "0" or "false",
            ApiKey = Opt("api-key"),
            CorsAllowOrigins = CorsOrigins(a.All("cors-allow-origin"), Environment.GetEnvironmentVariable("CORS_ALLOW_ORIGIN")),
            JsonOutput = a.Flag("json-output") || Environment.GetEnvironmentVariable("JSON_OUTPUT") is "1" or "true",
            OtlpEndpoint = Opt("otlp-endpoint"),
            OtlpServiceName = Opt("otlp-service-name") ?? d.OtlpServiceName,
            OtlpProtocol = Opt("otlp-protocol") ?? d.OtlpProtocol,
        };
        string? revision = Opt("revision");
        var registryDir = a.String("registry"); // no env fallback: a stray REGISTRY variable must not turn serve into the gateway
        long? budgetMb = Opt("gateway-memory-budget-mb") is { } mb
            ? long.TryParse(mb, out long v) && v > 0 ? v : throw new UsageException($"--gateway-memory-budget-mb must be a positive integer, got '{mb}'")
            : null;
        a.EnsureAllUsed();
        if (registryDir is not null && revision is not null) throw new UsageException("--revision (REVISION) applies to --model-id, not to --registry");
        if (registryDir is not null && options.LoraAdapters.Count > 0) throw new UsageException("--lora-adapters applies to one model, not to --registry");
        if (registryDir is not null && (options.Speculate is not null || options.DraftModelPath is not null))
            throw new UsageException("--speculate and --draft-model apply to one model, not to --registry");
        // The gateway serves TGIS deployments through its HTTP routes and listens on no gRPC port of its own.
        if (registryDir is not null && grpcPort is not null) throw new UsageException("--grpc-port (GRPC_PORT) applies to one model; the gateway (--registry) serves no gRPC port");
        if (registryDir is not null && options.Quantize is not null)
            throw new UsageException("--quantize applies to one model; with --registry, quantize each deployment's file ahead of time (inkwell quantize)");
        if (registryDir is not null) return await GatewayCommand.RunAsync(registryDir, budgetMb, options);
        if (budgetMb is not null) throw new UsageException("--gateway-memory-budget-mb only applies with --registry");
        if (options.Dtype is not null and not "float32" and not "float16" and not "bfloat16")
            throw new UsageException($"--dtype {options.Dtype}: expected float32, float16 or bfloat16 (weights run in the dtype of their file)");

        var clock = Stopwatch.StartNew();
        string path = ModelOptions.Resolve(options.ModelId, revision);
        Console.Error.WriteLine($"inkwell: loading {path} ...");
        var model = ModelOptions.Open(path, options.TokenizerPath, options.Quantize);
        var c = model.Config;
        Console.Error.WriteLine($"inkwell: loaded {model.Name} ({model.Format}, {c.Architecture}: {c.LayerCount} layers, dim {c.Dim}, " +
            $"{c.HeadCount}/{c.KvHeadCount} heads, vocab {c.VocabSize}, context {c.ContextLength}; weights {model.Weights.WeightBytes / 1048576.0:F1} MiB " +
            $"{model.Weights.Layers[0].Wq.Weight.Type}) in {clock.Elapsed.TotalSeconds:F2}s");
        var app = InkwellServer.Build(options, model);
        var state = app.Services.GetService(typeof(ServerState)) as ServerState;
        Console.Error.WriteLine($"inkwell: KV cache {state!.Service.Engine.KvCapacityTokens} tokens in blocks of {options.BlockSize}; " +
            $"max input {state.Validator.Limits.MaxInputTokens}, max total {state.Validator.Limits.MaxTotalTokens}; {options.NumThreads} threads");
        if (options.ApiKey is null && options.Hostname is not ("127.0.0.1" or "localhost" or "::1"))
            Console.Error.WriteLine($"inkwell: warning: serving on {options.Hostname} without --api-key: anyone who can reach this port can run generations");
        foreach (var adapter in state.Service.Engine.Model.Adapters?.Adapters ?? [])
            Console.Error.WriteLine($"inkwell: LoRA adapter '{adapter.Name}' ({adapter.Format}, rank {adapter.Rank}, alpha {adapter.Alpha}: {string.Join(", ", adapter.Targets)}) from {adapter.Path}");
        string scheme = options.Tls is null ? "http" : "https";
        Console.Error.WriteLine($"inkwell: serving on {scheme}://{options.Hostname}:{options.Port}, gRPC (fmaas.GenerationService) on port {options.GrpcPort}" +
            (options.Tls?.RequiresClientCertificate == true ? " (mutual TLS)" : ""));
        await app.RunAsync();
        model.Dispose();
        return 0;
    }

    /// <summary>--cors-allow-origin, repeated or comma-separated; CORS_ALLOW_ORIGIN when no flag is given.</summary>
    private static IReadOnlyList<string> CorsOrigins(IReadOnlyList<string> flags, string? environment) =>
        [.. (flags.Count > 0 ? flags : environment is { Length: > 0 } e ? [e] : [])
            .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];

    private static IReadOnlyList<(string Name, string Path)> LoraSpec(string spec)
    {
        try { return Models.Lora.LoraAdapterSet.ParseSpec(spec); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    private static Server.Tls.TlsOptions? Tls(Func<string, string?> option)
    {
        try
        {
            return Server.Tls.TlsOptions.FromEnvironment(option);
        }
        catch (InvalidOperationException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
