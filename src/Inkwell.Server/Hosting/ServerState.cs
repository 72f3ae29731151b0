using Inkwell.Server.Generation;
using Inkwell.Models.Loading;
using Inkwell.Models.Tokenizers;
using Inkwell.Server.Metrics;
using Inkwell.Server.Tgi;

namespace Inkwell.Server.Hosting;

/// <summary>What every route needs, built once at startup and shared (a singleton in DI).</summary>
public sealed class ServerState(ServerOptions options, LoadedModel model, Generation.GenerationService service, TgiValidator validator)
{
    public ServerOptions Options { get; } = options;
    public LoadedModel Model { get; } = model;
    public Generation.GenerationService Service { get; } = service;
    public TgiValidator Validator { get; } = validator;
    public ServerMetrics Metrics => Service.Metrics;
    public Tokenizer Tokenizer => Model.Tokenizer;
    public string ModelId => Options.ModelId ?? Model.Name;
    public Grammar.GrammarService? Grammars => Service.Grammars;

    public InfoDto Info() => new(
        ModelId: ModelId,
        ModelSha: null,
        ModelDtype: Model.Weights.Layers[0].Wq.Weight.Type.ToString().ToLowerInvariant(),
        ModelDeviceType: "cpu",
        ModelPipelineTag: "text-generation",
        MaxConcurrentRequests: Options.MaxConcurrentRequests,
        MaxBestOf: Validator.Limits.MaxBestOf,
        MaxStopSequences: Validator.Limits.MaxStopSequences,
        MaxInputTokens: Validator.Limits.MaxInputTokens,
        MaxTotalTokens: Validator.Limits.MaxTotalTokens,
        WaitingServedRatio: Options.WaitingServedRatio,
        MaxBatchTotalTokens: Service.Engine.KvCapacityTokens,
        MaxWaitingTokens: Options.MaxWaitingTokens,
        MaxBatchSize: Options.MaxBatchSize,
        ValidationWorkers: 1,
        MaxClientBatchSize: 4,
        Router: "inkwell",
        Version: typeof(ServerState).Assembly.GetName().Version?.ToString(3) ?? "0.1.0",
        Sha: null,
        DockerLabel: null,
        LoraAdapters: Service.AdapterNames is { Count: > 0 } adapters ? adapters : null);

    public void RefreshGauges()
    {
        var stats = Service.Engine.Stats;
        Metrics.QueueSize.Set(stats.WaitingRequests);
        Metrics.BatchCurrentSize.Set(stats.RunningRequests);
        Metrics.BatchInputTokens.Set(stats.RunningTokens);
        Metrics.BatchMaxRemainingTokens.Set(stats.MaxRemainingTokens);
        Metrics.KvBlocksFree.Set(stats.FreeBlocks);
        Metrics.KvBlocksTotal.Set(Service.Engine.BlockPool.BlockCount);
        Metrics.PermitsInUse.Set(Service.InFlight);
        var pool = Service.Engine.BlockPool;
        Metrics.PrefixCacheHitTokens.Set(pool.PrefixHits * (double)pool.BlockSize);
    }
}
