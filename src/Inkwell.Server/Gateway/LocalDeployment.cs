using Inkwell.Client;
using Inkwell.Client.Registry;
using Inkwell.Client.Tgi;
using Inkwell.Models.Hub;
using Inkwell.Models.Kv;
using Inkwell.Models.Loading;
using Inkwell.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace Inkwell.Server.Gateway;

/// <summary>One local deployment running in-process: the single-model server (InkwellServer.Build, so every route it
/// has, /v1 included once mapped, is reachable) on a loopback port, and the client the gateway forwards with.</summary>
internal sealed class LocalDeployment : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly LoadedModel _model;

    private LocalDeployment(ModelDeployment deployment, LoadedModel model, WebApplication app, Uri address, long costBytes)
    {
        Deployment = deployment;
        _model = model;
        _app = app;
        Address = address;
        CostBytes = costBytes;
        // The loopback server is ours and up: a failure is a bug to report, not something to retry.
        Client = new TgiClient(new InferenceClientOptions { BaseAddress = address, MaxAttempts = 1, DefaultRequestTimeout = TimeSpan.FromMinutes(30) });
    }

    public ModelDeployment Deployment { get; }
    public Uri Address { get; }
    public TgiClient Client { get; }

    /// <summary>Weights plus KV cache bytes, what the memory budget counts.</summary>
    public long CostBytes { get; }

    /// <summary>Opens the model (weights are memory-mapped, so this is cheap) and says what starting it would cost,
    /// so the pool can make room before the KV cache is allocated.</summary>
    public static (LoadedModel Model, ServerOptions Options, long CostBytes) Open(ModelDeployment deployment, ServerOptions defaults)
    {
        var options = OptionsFor(deployment, defaults);
        string path;
        using (var hub = HubModelResolver.FromEnvironment()) path = hub.Resolve(deployment.ClientSpec.ModelPath!); // a Hub id: cache or download
        var model = ModelLoader.Load(path, options.TokenizerPath);
        try
        {
            model.Tokenizer.RequireText(); // before the pool makes room for a model it cannot serve
            var (_, _, kvTokens) = InkwellServer.Limits(options, model.Config);
            long kvBytes = KvCacheStorage.BytesPerToken(model.Config.LayerCount, model.Config.KvDim) * kvTokens;
            return (model, options, model.Weights.WeightBytes + kvBytes);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static async Task<LocalDeployment> StartAsync(ModelDeployment deployment, LoadedModel model, ServerOptions options, long costBytes)
    {
        var app = InkwellServer.Build(options, model);
        try
        {
            await app.StartAsync();
            return new LocalDeployment(deployment, model, app, InkwellServer.BoundAddresses(app)[0], costBytes);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>The deployment's server options: the gateway's defaults, its registry limits, then its
    /// client_spec engine options (most specific wins). Unknown engine options are errors, not ignored.</summary>
    public static ServerOptions OptionsFor(ModelDeployment deployment, ServerOptions defaults)
    {
        var spec = deployment.ClientSpec;
        var unknown = spec.EngineOptions.Keys.Except(KnownOptions, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"Deployment '{deployment.Name}' has unknown engine option(s) {string.Join(", ", unknown)} in client_spec; " +
                $"known: {string.Join(", ", KnownOptions)}.");
        return defaults with
        {
            ModelId = deployment.ModelName,
            Hostname = "127.0.0.1",
            Port = 0,
            // The gateway is the front door: it checks the key and answers CORS; its loopback deployments need neither.
            ApiKey = null,
            CorsAllowOrigins = [],
            // Only the gateway listens for callers: a deployment of its own gRPC port would make the second local
            // deployment fail on the port the first holds.
            GrpcPort = null,
            // The gateway's tracer (--otlp-endpoint) already sees this in-process host: ASP.NET Core's and Inkwell's
            // activity sources are process-wide, so a tracer of its own would export each of its spans twice.
            // --json-output stays: its host writes JSON lines to the same console.
            OtlpEndpoint = null,
            TokenizerPath = spec.EngineOptions.GetValueOrDefault("tokenizer") ?? defaults.TokenizerPath,
            MaxInputTokens = spec.GetIntOption("max_input_tokens") ?? deployment.MaxSequenceLength ?? defaults.MaxInputTokens,
            MaxTotalTokens = spec.GetIntOption("max_total_tokens") ?? deployment.MaxSequenceAndGeneratedTokensLength ?? defaults.MaxTotalTokens,
            MaxBatchTotalTokens = spec.GetIntOption("max_batch_total_tokens") ?? defaults.MaxBatchTotalTokens,
            MaxBatchPrefillTokens = spec.GetIntOption("max_batch_prefill_tokens") ?? defaults.MaxBatchPrefillTokens,
            MaxBatchSize = spec.GetIntOption("max_batch_size") ?? defaults.MaxBatchSize,
            MaxConcurrentRequests = spec.GetIntOption("max_concurrent_requests") ?? defaults.MaxConcurrentRequests,
            NumThreads = spec.GetIntOption("num_threads") ?? spec.GetIntOption("threads") ?? defaults.NumThreads,
            BlockSize = spec.GetIntOption("block_size") ?? defaults.BlockSize,
        };
    }

    private static readonly string[] KnownOptions =
    [
        "tokenizer", "max_input_tokens", "max_total_tokens", "max_batch_total_tokens", "max_batch_prefill_tokens",
        "max_batch_size", "max_concurrent_requests", "num_threads", "threads", "block_size",
    ];

    /// <summary>Stops the server (in-flight requests finish first), then frees the engine and unmaps the weights.</summary>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _model.Dispose();
    }
}
