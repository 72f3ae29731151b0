using System.Net;
using Inkwell.Engine;
using Inkwell.Engine.Scheduling;
using Inkwell.Engine.Speculation;
using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.Server.Generation;
using Inkwell.Server.Grammar;
using Inkwell.Server.Grpc;
using Inkwell.Server.Http;
using Inkwell.Server.Metrics;
using Inkwell.Server.OpenAI;
using Inkwell.Server.Playground;
using Inkwell.Server.PromptTuning;
using Inkwell.Server.Telemetry;
using Inkwell.Server.Tgi;
using Inkwell.Server.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Hosting;

/// <summary>Builds the web application over a loaded model: engine, validation, routes. Used by `inkwell serve` and tests.</summary>
public static class InkwellServer
{
    /// <summary>Derives TGI's token limits from the options and the model, as TGI's launcher does.</summary>
    public static (int MaxInput, int MaxTotal, int KvTokens) Limits(ServerOptions o, ModelConfig c)
    {
        int maxTotal = o.MaxTotalTokens ?? Math.Min(c.ContextLength, 4096);
        int maxInput = o.MaxInputTokens ?? maxTotal - 1;
        if (maxInput >= maxTotal) throw new ArgumentException($"--max-input-tokens ({maxInput}) must be < --max-total-tokens ({maxTotal})");
        if (maxTotal > c.ContextLength) throw new ArgumentException($"--max-total-tokens ({maxTotal}) exceeds the model's context length ({c.ContextLength})");
        int kv = o.MaxBatchTotalTokens ?? Math.Max(maxTotal, 16384);
        if (kv < maxTotal) throw new ArgumentException($"--max-batch-total-tokens ({kv}) must be >= --max-total-tokens ({maxTotal})");
        return (maxInput, maxTotal, kv);
    }

    /// <summary>--speculate / --draft-model: prompt lookup, or a draft model loaded here (run on the same worker pool, on the engine thread).</summary>
    private static (SpeculationOptions? Options, LoadedModel? Draft) Speculation(ServerOptions o, WorkerPool pool)
    {
        if (o.Speculate < 0) throw new ArgumentException($"--speculate ({o.Speculate}) must not be negative");
        if (o.DraftModelPath is null) return (o.Speculate > 0 ? new SpeculationOptions { MaxDraftTokens = o.Speculate.Value } : null, null);
        if (o.Speculate == 0) throw new ArgumentException("--draft-model needs --speculate > 0 (or no --speculate: 5 draft tokens)");
        var draft = ModelLoader.Load(o.DraftModelPath);
        return (new SpeculationOptions { MaxDraftTokens = o.Speculate ?? 5, DraftModel = draft.CreateModel(pool), DraftTokenizer = draft.Tokenizer }, draft);
    }

    /// <summary>Every address a started app is bound to, in listen order (port 0 resolved to the real port).</summary>
    public static IReadOnlyList<Uri> BoundAddresses(WebApplication app) =>
        [.. app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a))];

    private static IPAddress ListenAddress(string hostname) =>
        hostname == "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(hostname, out var ip) ? ip
        : Dns.GetHostAddresses(hostname).FirstOrDefault() ?? throw new ArgumentException($"--hostname {hostname}: cannot resolve it");

    public static WebApplication Build(ServerOptions options, LoadedModel model, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        // Every API takes and returns text: a placeholder vocabulary (llama.cpp's test models) is refused here, not mid-request.
        model.Tokenizer.RequireText();
        var (maxInput, maxTotal, kvTokens) = Limits(options, model.Config);
        if (options.LoraAdapters.Count > 0) Models.Lora.LoraAdapterSet.Attach(model.Config, model.Weights, options.LoraAdapters);
        var pool = new WorkerPool(options.NumThreads);
        var llama = model.CreateModel(pool);
        var metrics = new ServerMetrics(options.MaxBatchPrefillTokens);
        var (speculation, draft) = Speculation(options, pool);
        var engine = new InferenceEngine(llama, model.Tokenizer, new EngineOptions
        {
            Speculation = speculation,
            KvCacheTokens = kvTokens,
            BlockSize = options.BlockSize,
            PrefixCaching = options.PrefixCaching,
            Scheduler = new SchedulerOptions
            {
                MaxBatchTokens = Math.Max(options.MaxBatchPrefillTokens, 1),
                MaxRunningRequests = options.MaxBatchSize ?? 256,
            },
        }, metrics.ObserveStep);
        // TGIS prompt tuning and constrained generation live behind the one generation service every API calls.
        var prefixes = new PromptPrefixStore(options.PromptPrefixDir, model.Config.Dim) { Loaded = t => metrics.PromptLoadDuration.Observe(t.TotalSeconds) };
        var grammars = new GrammarService(model.Tokenizer);
        if (options.ShutdownGracePeriod < TimeSpan.Zero) throw new ArgumentException($"--shutdown-grace-period ({options.ShutdownGracePeriod.TotalSeconds} s) must be >= 0");
        if (options.PayloadLimit <= 0) throw new ArgumentException($"--payload-limit ({options.PayloadLimit}) must be positive");
        var service = new Generation.GenerationService(engine, metrics, new GenerationLimits(maxInput, maxTotal), options.MaxConcurrentRequests, grammars, prefixes);
        var validator = new TgiValidator(new ValidationLimits
        {
            MaxBestOf = options.MaxBestOf,
            MaxStopSequences = options.MaxStopSequences,
            MaxTopNTokens = options.MaxTopNTokens,
            MaxInputTokens = maxInput,
            MaxTotalTokens = maxTotal,
        });
        var state = new ServerState(options, model, service, validator);

        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(state);
        builder.Services.AddSingleton(metrics);
        // Operations (TGI's flags): structured logs, traces, CORS; the API key is checked by a middleware below.
        if (options.JsonOutput) builder.UseJsonLogs();
        if (options.OtlpEndpoint is { } otlp) builder.AddOtlpTracing(otlp, options.OtlpServiceName, options.OtlpProtocol);
        if (options.CorsAllowOrigins.Count > 0) builder.Services.AddInkwellCors(options.CorsAllowOrigins);
        // SIGTERM: drain first (readiness 503, new work refused), then stop what still runs at the grace period's end.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = GracefulDrain.HostShutdownTimeout(options.ShutdownGracePeriod));
        builder.Services.AddHostedService(_ => new GracefulDrain(service.Drain, () => service.InFlight, options.ShutdownGracePeriod));
        var requestLimits = new RequestLimits(options.PayloadLimit);
        builder.WebHost.ConfigureKestrel(kestrel => requestLimits.ApplyTo(kestrel.Limits));
        // TGIS gRPC shares the generation service (engine, permits) and the TLS settings with the HTTP API.
        builder.Services.AddSingleton(prefixes);
        builder.Services.AddSingleton<IGenerationBackend>(new EngineGenerationBackend(service, options.GrpcMaxNewTokens));
        var grpcEndpoint = new GrpcEndpoint();
        builder.Services.AddSingleton(grpcEndpoint);
        if (options.GrpcPort is not null) builder.Services.AddTgisGrpc(isHealthy: () => engine.IsHealthy && !service.Drain.IsDraining);
        if (options.GrpcPort is null && options.Tls is null)
        {
            builder.WebHost.UseUrls($"http://{options.Hostname}:{options.Port}");
        }
        else
        {
            var address = ListenAddress(options.Hostname);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(address, options.Port, listen => { if (options.Tls is { } tls) listen.UseTls(tls); });
                if (options.GrpcPort is { } grpcPort) kestrel.ListenGrpc(address, grpcPort, options.Tls, listen => grpcEndpoint.Listen = listen);
            });
        }
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseErrorShaping(requestLimits);
        if (options.CorsAllowOrigins.Count > 0) app.UseCors();
        if (options.ApiKey is { } apiKey) app.UseApiKey(apiKey);
        if (options.GrpcPort is not null)
        {
            app.UseGrpcPortSeparation();
            app.MapTgisGrpc();
        }
        app.MapTgi();
        app.MapOpenAI();
        app.MapLiveness(() => engine.IsHealthy);
        app.MapPlayground();
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            draft?.Dispose();
            pool.Dispose();
        });
        return app;
    }
}
