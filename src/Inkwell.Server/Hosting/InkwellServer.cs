using System.Net;
using Inkwell.Engine;
using Inkwell.Engine.Scheduling;
using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.Server.Generation;
using Inkwell.Server.Grammar;
using Inkwell.Server.Grpc;
using Inkwell.Server.Http;
using Inkwell.Server.Metrics;
using Inkwell.Server.OpenAI;
using Inkwell.Server.PromptTuning;
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
        var pool = new WorkerPool(options.NumThreads);
        var llama = model.CreateModel(pool);
        var metrics = new ServerMetrics();
        var engine = new InferenceEngine(llama, model.Tokenizer, new EngineOptions
        {
            KvCacheTokens = kvTokens,
            BlockSize = options.BlockSize,
            PrefixCaching = options.PrefixCaching,
            Scheduler = new SchedulerOptions
            {
                MaxBatchTokens = Math.Max(options.MaxBatchPrefillTokens, 1),
                MaxRunningRequests = options.MaxBatchSize ?? 256,
            },
        }, step =>
        {
            string method = step.PrefillTokens > 0 ? "prefill" : "decode";
            metrics.BatchForwardDuration.Observe(step.ForwardSeconds, method);
            metrics.BatchDecodeDuration.Observe(step.StepSeconds, method);
        });
        // TGIS prompt tuning and constrained generation live behind the one generation service every API calls.
        var prefixes = new PromptPrefixStore(options.PromptPrefixDir, model.Config.Dim);
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
        // SIGTERM: drain first (readiness 503, new work refused), then stop what still runs at the grace period's end.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = GracefulDrain.HostShutdownTimeout(options.ShutdownGracePeriod));
        builder.Services.AddHostedService(_ => new GracefulDrain(service, options.ShutdownGracePeriod));
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
        if (options.GrpcPort is not null)
        {
            app.UseGrpcPortSeparation();
            app.MapTgisGrpc();
        }
        app.MapTgi();
        app.MapOpenAI();
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            pool.Dispose();
        });
        return app;
    }
}
