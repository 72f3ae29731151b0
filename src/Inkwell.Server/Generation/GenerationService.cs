using Inkwell.Engine;
using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;
using Inkwell.Models.Lora;
using Inkwell.Models.Tokenizers;
using Inkwell.Server.Grammar;
using Inkwell.Server.Metrics;
using Inkwell.Server.PromptTuning;
using Inkwell.Server.Telemetry;

namespace Inkwell.Server.Generation;

/// <summary>
/// The one path from every front end (TGI, OpenAI, TGIS gRPC) to the engine, in TGI's Infer order: a permit per
/// sequence first (none left: <see cref="GenerationErrorKind.Overloaded"/> before any tokenizing work), then the
/// request made concrete in one place (tokenization, truncation, token limits and defaults, seeds, prompt prefix,
/// grammar), then one engine request per sequence (best_of / n fan out here). What comes back is a
/// <see cref="GenerationRun"/>: one event stream over all its sequences, holding the permits until disposed.
/// </summary>
public sealed class GenerationService(
    InferenceEngine engine, ServerMetrics metrics, GenerationLimits limits, int maxConcurrentRequests,
    GrammarService? grammars = null, PromptPrefixStore? prefixes = null, ServerDrain? drain = null)
{
    public const string ShuttingDownMessage = "the server is shutting down";

    private int _inFlight;

    public InferenceEngine Engine => engine;
    public ServerMetrics Metrics => metrics;
    public GenerationLimits Limits => limits;
    public Tokenizer Tokenizer => engine.Tokenizer;
    /// <summary>Grammar compilation (vocabulary, cache); null = constrained generation unsupported.</summary>
    public GrammarService? Grammars => grammars;
    public int InFlight => Volatile.Read(ref _inFlight);
    /// <summary>The server's shutdown state: draining refuses new work; at the grace period's end running work is stopped.</summary>
    public ServerDrain Drain { get; } = drain ?? new ServerDrain();

    public Task<GenerationRun> StartAsync(GenerationInput input, CancellationToken ct, RequestTelemetry? telemetry = null) => StartAsync([input], ct, telemetry);

    /// <summary>
    /// Starts every sequence of every input together (a TGIS batch, an OpenAI prompt list), or none: one refused input
    /// refuses them all. Throws <see cref="GenerationException"/>. The call's <paramref name="telemetry"/> (metrics and
    /// spans) hears of the queueing and of each sequence's end; the caller still counts refusals.
    /// </summary>
    public async Task<GenerationRun> StartAsync(IReadOnlyList<GenerationInput> inputs, CancellationToken ct, RequestTelemetry? telemetry = null)
    {
        if (Drain.IsDraining) throw new GenerationException(GenerationErrorKind.Unavailable, ShuttingDownMessage);
        long sequences = 0;
        foreach (var input in inputs) sequences += input.Sequences;
        var permit = Acquire(sequences);
        int count = (int)sequences; // within the permit budget, an int
        // The grace period's end stops every run still going; the run tells that apart from its client leaving.
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct, Drain.GraceExpired);
        var streams = new List<GenerationStream>(count);
        try
        {
            var prepared = new List<(PreparedInput Input, GenerationRequest Request)>(inputs.Count);
            foreach (var input in inputs) prepared.Add(await PrepareAsync(input, ct));
            var origins = new List<(int Input, int Sequence)>(count);
            var queuedAt = DateTimeOffset.UtcNow;
            for (int i = 0; i < prepared.Count; i++)
            {
                var (p, request) = prepared[i];
                for (int s = 0; s < p.Input.Sequences; s++)
                {
                    // Each sequence has its own seed and its own grammar walk.
                    var sequence = s == 0 ? request : request with
                    {
                        Sampling = request.Sampling with { Seed = p.Seed + (ulong)s },
                        Constraint = request.Constraint?.CreateFresh(),
                    };
                    streams.Add(Submit(sequence, cancel.Token));
                    origins.Add((i, s));
                }
            }
            PreparedInput[] preparedInputs = [.. prepared.Select(p => p.Input)];
            telemetry?.Queued(preparedInputs, queuedAt);
            return new GenerationRun(preparedInputs, streams, origins, permit, cancel, Drain.GraceExpired, telemetry, queuedAt);
        }
        catch
        {
            // Sequences already queued must not run on for nobody.
            await cancel.CancelAsync();
            cancel.Dispose();
            permit.Dispose();
            throw;
        }
    }

    private GenerationStream Submit(GenerationRequest request, CancellationToken ct)
    {
        try
        {
            return engine.Submit(request, ct);
        }
        catch (ArgumentException e)
        {
            throw new GenerationException(GenerationErrorKind.ContextLength, e.Message);
        }
        catch (InvalidOperationException e)
        {
            throw new GenerationException(GenerationErrorKind.Unavailable, e.Message);
        }
    }

    /// <summary>Tokenizes, truncates, applies the limits and defaults, seeds, loads the prefix and compiles the grammar.</summary>
    private async Task<(PreparedInput, GenerationRequest)> PrepareAsync(GenerationInput input, CancellationToken ct)
    {
        var tokenizer = engine.Tokenizer;
        var ids = input.PromptTokens ?? tokenizer.EncodeToIds(input.PromptText ?? "", addSpecialTokens: input.AddSpecialTokens);
        if (input.Truncate is { } keep) ids = Truncate(ids, keep, input.AddSpecialTokens && input.PromptTokens is null && tokenizer.AddBos ? tokenizer.BosId : null);
        metrics.RawInputLength.Observe(ids.Count);
        if (ids.Count == 0) throw GenerationException.Invalid("the prompt is empty");

        PromptPrefix? prefix = null;
        if (input.PrefixId is { } prefixId)
        {
            if (prefixes is null) throw GenerationException.Invalid("prompt prefixes are not enabled on this server", "prefix_id");
            try
            {
                prefix = prefixes.Get(prefixId);
            }
            catch (PromptPrefixException e)
            {
                metrics.PromptLoadFailure.Increment();
                throw GenerationException.Invalid(e.Message, "prefix_id");
            }
        }
        var adapter = input.AdapterId is { } adapterId ? FindAdapter(adapterId, input.AdapterParam) : null;
        var (maxNew, limited) = MaxNewTokens(input, ids.Count, prefix?.VirtualTokens ?? 0, limits);
        metrics.InputLength.Observe(ids.Count);
        metrics.MaxNewTokens.Observe(maxNew);
        if (input.LogitBias?.Keys.FirstOrDefault(id => (uint)id >= (uint)tokenizer.VocabSize, -1) is >= 0 and var badId)
            throw GenerationException.Invalid($"logit_bias: token id {badId} is not in the vocabulary (0 to {tokenizer.VocabSize - 1})", "logit_bias");
        ulong seed = input.Seed ?? (ulong)Random.Shared.NextInt64(0, 1L << 32);

        ITokenConstraint? constraint = null;
        if (input.Grammar is { } spec)
        {
            if (grammars is null) throw GenerationException.Invalid("constrained generation is not available on this server", input.GrammarParam);
            try
            {
                constraint = grammars.NewConstraint(await grammars.CompileAsync(spec, ct));
            }
            catch (GrammarException e)
            {
                throw GenerationException.Invalid(e.Message, input.GrammarParam);
            }
        }

        var request = new GenerationRequest
        {
            PromptTokens = ids,
            Sampling = input.Sampling with { Seed = seed },
            Stopping = new StoppingParameters
            {
                MaxNewTokens = maxNew,
                MinNewTokens = input.MinNewTokens,
                IgnoreEos = input.IgnoreEos,
                StopSequences = input.StopSequences,
                IncludeStopSequence = input.IncludeStopSequence,
                TimeLimit = input.TimeLimit,
            },
            TopNTokens = input.TopNTokens,
            TokenRanks = input.TokenRanks,
            PrefillLogProbs = input.PrefillLogProbs,
            PrefixEmbeddings = prefix?.Embeddings,
            PrefixSalt = prefix?.Salt ?? 0,
            Adapter = adapter,
            Constraint = constraint,
            LengthPenalty = input.LengthPenalty,
            LogitBias = input.LogitBias,
        };
        return (new PreparedInput(input, ids, prefix?.VirtualTokens ?? 0, maxNew, limited, seed), request);
    }

    /// <summary>The names of the LoRA adapters requests may select (in --lora-adapters order; fixed at startup).</summary>
    public IReadOnlyList<string> AdapterNames { get; } = [.. engine.Model.Adapters?.Names ?? []];

    private LoraAdapter FindAdapter(string name, string param) =>
        engine.Model.Adapters?.Find(name) ?? throw GenerationException.Invalid(UnknownAdapterMessage(name, AdapterNames), param);

    /// <summary>The one wording, for every API, of a request naming an adapter the server does not have.</summary>
    public static string UnknownAdapterMessage(string name, IReadOnlyList<string> loaded) => loaded.Count == 0
        ? $"LoRA adapter '{name}' is not loaded: this server has no adapters (start it with --lora-adapters name=path,...)"
        : $"LoRA adapter '{name}' is not loaded; loaded adapters: {string.Join(", ", loaded)}";

    /// <summary>
    /// Left truncation as a Hugging Face tokenizer does it with truncation_side="left": the last <paramref name="keep"/>
    /// tokens, except that a BOS the tokenizer added stays first and counts toward the limit.
    /// </summary>
    public static IReadOnlyList<int> Truncate(IReadOnlyList<int> ids, int keep, int? addedBos)
    {
        if (keep <= 0 || keep >= ids.Count) return ids;
        bool bos = addedBos is { } b && ids[0] == b;
        return bos && keep > 1 ? [ids[0], .. ids.Skip(ids.Count - (keep - 1))] : [.. ids.Skip(ids.Count - keep)];
    }

    /// <summary>
    /// The token limits, in one place for every API: max_new_tokens resolved (default: what fits, capped) and checked
    /// against the total, the input against its own limit, min_new_tokens against both. Under TGIS's rule an
    /// overflowing max_new_tokens is lowered to fit (reported as limited) instead of refused.
    /// </summary>
    public static (int MaxNewTokens, bool Limited) MaxNewTokens(GenerationInput input, int inputTokens, int prefixTokens, GenerationLimits limits)
    {
        // Sums in long: a client's max_new_tokens near int.MaxValue must fail the check, not wrap past it.
        long total = limits.MaxTotalTokens;
        long effective = (long)inputTokens + prefixTokens;
        long maxNew;
        bool limited = false;
        if (input.ClampToSequenceLimit)
        {
            if (effective >= total)
                throw new GenerationException(GenerationErrorKind.ContextLength, $"input tokens ({inputTokens}) plus prefix length ({prefixTokens}) must be < {total}", "inputs");
            if (effective + input.MinNewTokens > total)
                throw new GenerationException(GenerationErrorKind.ContextLength,
                    $"input tokens ({inputTokens}) plus prefix length ({prefixTokens}) plus min_new_tokens ({input.MinNewTokens}) must be <= {total}", "min_new_tokens");
            long wanted = input.MaxNewTokens ?? Math.Min(input.DefaultMaxNewTokens, total - effective);
            limited = effective + wanted > total;
            maxNew = limited ? total - effective : wanted;
        }
        else
        {
            maxNew = input.MaxNewTokens ?? Math.Max(1, Math.Min(input.DefaultMaxNewTokens, total - effective));
            if (effective + maxNew > total)
                throw new GenerationException(GenerationErrorKind.ContextLength,
                    $"`inputs` tokens + `max_new_tokens` must be <= {total}. Given: {effective} `inputs` tokens and {maxNew} `max_new_tokens`", "max_new_tokens");
            if (effective > limits.MaxInputTokens)
                throw new GenerationException(GenerationErrorKind.ContextLength, $"`inputs` must have less than {limits.MaxInputTokens} tokens. Given: {effective}", "inputs");
        }
        if (maxNew < 1) throw GenerationException.Invalid("max_new_tokens must be strictly positive", "max_new_tokens");
        if (input.MinNewTokens > maxNew) throw GenerationException.Invalid("min_new_tokens must be <= max_new_tokens", "min_new_tokens");
        // Within total (an int) by the checks above.
        return ((int)maxNew, limited);
    }

    private Permit Acquire(long count)
    {
        // A count over the whole budget can never be served; checking it first keeps the int sum below from wrapping.
        if (count > maxConcurrentRequests || Interlocked.Add(ref _inFlight, (int)count) > maxConcurrentRequests)
        {
            if (count <= maxConcurrentRequests) Interlocked.Add(ref _inFlight, -(int)count);
            throw new GenerationException(GenerationErrorKind.Overloaded, GenerationException.OverloadedMessage);
        }
        return new Permit(this, (int)count);
    }

    private sealed class Permit(GenerationService owner, int count) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Interlocked.Add(ref owner._inFlight, -count);
        }
    }
}
