using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Inkwell.Engine.KvCache;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Engine.Scheduling;
using Inkwell.Engine.Speculation;
using Inkwell.Models.Kv;
using Inkwell.Models;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine;

/// <summary>One engine step, as the server's metrics see it.</summary>
/// <remarks>Under speculative decoding DecodeTokens counts verified rows; DraftedTokens of them were drafts and AcceptedTokens passed.</remarks>
public readonly record struct EngineStepReport(int BatchSize, int PrefillTokens, int DecodeTokens, double ForwardSeconds, double StepSeconds,
    int DraftedTokens = 0, int AcceptedTokens = 0);

/// <summary>Counters the server's /metrics and tests read (written by the engine thread, read anywhere).</summary>
public sealed class EngineStats
{
    public long Steps;
    public long ForwardTokens;
    public int RunningRequests;
    public int WaitingRequests;
    public int FreeBlocks;
    public long Preemptions;
    public double LastForwardSeconds;
    public double LastBatchSize;
    /// <summary>Tokens (prompt and generated so far) of the running requests.</summary>
    public long RunningTokens;
    /// <summary>The most tokens any running request may still generate.</summary>
    public int MaxRemainingTokens;
    /// <summary>Speculative decoding: draft tokens verified, and how many of them the target accepted.</summary>
    public long SpecDraftedTokens;
    public long SpecAcceptedTokens;
    /// <summary>Steps whose drafter threw, and so decoded without drafts.</summary>
    public long SpecDraftFailures;
}

/// <summary>
/// The engine loop: one thread owns the model, the KV cache and the scheduler. Each step is vLLM v1's three phases:
/// schedule (a token budget over running and waiting requests), execute (one forward pass over every scheduled
/// chunk), update (run each finished row through its sequence's logits processors, sample, notify its observers,
/// apply the token-level stop criteria, free finished requests' blocks). Requests come in through a channel; each
/// request's token ids go out through its own channel as <see cref="StepOutput"/> structs, and the output stage
/// (<see cref="GenerationStream"/>, on the reader's thread) detokenizes them and matches stop sequences.
/// </summary>
public sealed class InferenceEngine : IAsyncDisposable, ISpeculationHost
{
    private readonly ICausalLM _model;
    private readonly Tokenizer _tokenizer;
    private readonly KvCacheStorage _kv;
    private readonly KvCacheManager _cache;
    private readonly Scheduler _scheduler;
    private readonly Sampler _sampler = new();
    private readonly Speculator? _speculator;
    private readonly Channel<EngineRequest> _incoming = Channel.CreateUnbounded<EngineRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly List<SequenceChunk> _chunks = [];
    private readonly List<EngineRequest> _cancelled = [];
    private float[] _row = [];
    private readonly Action<EngineStepReport>? _stepObserver;
    private int[] _tokenStage = new int[256];
    private int[] _blockStage = new int[256];
    private long _nextId;
    private volatile Exception? _fatal;
    private int _failedPassesInARow;
    /// <summary>Failed forward passes in a row, with none succeeding between them, after which the engine stops as broken.</summary>
    private const int MaxFailedPassesInARow = 8;

    /// <param name="stepObserver">Called on the engine thread after each step (keep it cheap), e.g. for metrics.</param>
    public InferenceEngine(ICausalLM model, Tokenizer tokenizer, EngineOptions options, Action<EngineStepReport>? stepObserver = null)
    {
        _stepObserver = stepObserver;
        _model = model;
        _tokenizer = tokenizer;
        Options = options;
        int blocks = (options.KvCacheTokens + options.BlockSize - 1) / options.BlockSize;
        _kv = model.CreateKvCache(options.BlockSize, blocks);
        _cache = new KvCacheManager(new BlockPool(blocks, options.BlockSize, options.PrefixCaching), _kv.CopyBlock);
        _scheduler = new Scheduler(options.Scheduler, _cache);
        if (options.Speculation is { MaxDraftTokens: > 0 } speculation)
            _speculator = new Speculator(CreateDrafter(speculation, options), speculation.MaxDraftTokens, _cache, model.Config.ContextLength, model.Config.VocabSize, Stats);
        else if (options.Speculation is { MaxDraftTokens: < 0 }) throw new ArgumentException("the number of draft tokens must not be negative");
        Stats.FreeBlocks = blocks;
        _thread = new Thread(Loop) { Name = "inkwell-engine", IsBackground = true };
        _thread.Start();
    }

    public EngineOptions Options { get; }
    public EngineStats Stats { get; } = new();
    public ICausalLM Model => _model;
    public Tokenizer Tokenizer => _tokenizer;
    public int KvCapacityTokens => _kv.TokenCapacity;
    public BlockPool BlockPool => _cache.Pool;
    public bool IsHealthy => _fatal is null && _thread.IsAlive;
    /// <summary>The drafter when speculative decoding is on (tests read its cache).</summary>
    public IDrafter? Drafter => _speculator?.Drafter;

    private IDrafter CreateDrafter(SpeculationOptions speculation, EngineOptions options)
    {
        if (speculation.Drafter is { } custom) return custom;
        if (speculation.DraftModel is not { } draft) return new PromptLookupDrafter();
        var draftTokenizer = speculation.DraftTokenizer ?? throw new ArgumentException("a draft model needs its tokenizer, to check that it shares the target's vocabulary");
        SpeculationOptions.RequireSameVocabulary(_model.Config, _tokenizer, draft.Config, draftTokenizer);
        return new DraftModelDrafter(draft, options.BlockSize, options.KvCacheTokens, options.PrefixCaching);
    }

    /// <summary>
    /// Queues a request; its events come from the returned stream. Cancelling the token (or leaving the stream early)
    /// removes it at the next step.
    /// </summary>
    public GenerationStream Submit(GenerationRequest request, CancellationToken cancellation = default)
    {
        if (_fatal is not null) throw new InvalidOperationException("the engine has stopped after an error: " + _fatal.Message);
        int prefixRows = request.PrefixEmbeddings is { } p ? p.Length / _model.Config.Dim : 0;
        int needed = prefixRows + request.PromptTokens.Count + request.Stopping.MaxNewTokens;
        if (needed > _kv.TokenCapacity) throw new ArgumentException($"request needs {needed} tokens but the KV cache holds {_kv.TokenCapacity}");
        if (request.Adapter is { } adapter && _model.Adapters?.Find(adapter.Name) != adapter)
            throw new ArgumentException($"LoRA adapter '{adapter.Name}' is not attached to this engine's model");
        var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var pipeline = LogitsPipeline.For(request, _tokenizer.EndOfGenerationIds, _model.Config.VocabSize);
        var r = new EngineRequest(Interlocked.Increment(ref _nextId), request, prefixRows, pipeline, abort.Token);
        if (!_incoming.Writer.TryWrite(r))
        {
            abort.Dispose();
            throw new InvalidOperationException("the engine is shutting down");
        }
        return new GenerationStream(r, _tokenizer, abort);
    }

    private void Loop()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                while (_incoming.Reader.TryRead(out var r)) _scheduler.Add(r);
                DropCancelled();
                if (_scheduler.Running.Count == 0 && _scheduler.Waiting.Count == 0)
                {
                    PublishStats();
                    try { _incoming.Reader.WaitToReadAsync(_stop.Token).AsTask().Wait(); }
                    catch (AggregateException) { break; }
                    continue;
                }
                Step();
            }
        }
        catch (Exception e)
        {
            _fatal = e;
            foreach (var r in _scheduler.Running.Concat(_scheduler.Waiting).ToList()) Fail(r, "engine failure: " + e.Message);
        }
    }

    private void Step()
    {
        var stepClock = Stopwatch.StartNew();
        _speculator?.Propose(_scheduler.Running);
        var plan = _scheduler.Schedule();
        _speculator?.FitToPlan(plan);
        Stats.Preemptions += plan.Preempted.Count;
        if (plan.IsEmpty)
        {
            // Nothing fits: only possible if a single request outgrew the cache; fail the oldest waiting one.
            if (_scheduler.Running.Count == 0 && _scheduler.Waiting.FirstOrDefault() is { } stuck) Fail(stuck, "request does not fit in the KV cache");
            return;
        }
        int decode = 0;
        foreach (var c in plan.Chunks) if (c.StartPosition >= c.Request.PromptLength && (c.Count == 1 || Speculator.HasDraft(c.Request))) decode += c.Count;
        long drafted = Stats.SpecDraftedTokens, accepted = Stats.SpecAcceptedTokens;
        ExecuteAndUpdate(plan);
        PublishStats();
        _stepObserver?.Invoke(new EngineStepReport(plan.Chunks.Count, plan.TokenCount - decode, decode, Stats.LastForwardSeconds, stepClock.Elapsed.TotalSeconds,
            (int)(Stats.SpecDraftedTokens - drafted), (int)(Stats.SpecAcceptedTokens - accepted)));
    }

    /// <summary>
    /// Execute, then update. A forward pass writes only its own rows' cache slots, and running it again writes the
    /// same values, so a batch whose pass threw is run again one request at a time: a request whose pass fails on its
    /// own is failed with the error, and every other one goes on as if nothing had happened (TGI fails the whole
    /// batch there, vLLM stops its engine). Passes that keep failing with nothing in between (a broken model, not a
    /// bad request) stop the engine as before, so health checks report it. (A drafter that throws only costs its
    /// step its drafts.)
    /// </summary>
    private void ExecuteAndUpdate(SchedulerOutput plan)
    {
        ReadOnlySpan<float> logits;
        try
        {
            logits = Execute(plan);
        }
        catch (Exception) when (plan.Chunks.Count > 1)
        {
            foreach (var c in plan.Chunks) ExecuteAndUpdate(new SchedulerOutput([c], [], []));
            return;
        }
        catch (Exception e)
        {
            if (++_failedPassesInARow >= MaxFailedPassesInARow)
                throw new InvalidOperationException($"{_failedPassesInARow} forward passes failed in a row, the last with: {e.Message}", e);
            Fail(plan.Chunks[0].Request, "the forward pass failed: " + e.Message);
            return;
        }
        _failedPassesInARow = 0;
        Update(plan, logits);
    }

    /// <summary>Stages every chunk's tokens and block table and runs one forward pass; returns the logits rows asked for.</summary>
    private ReadOnlySpan<float> Execute(SchedulerOutput plan)
    {
        _chunks.Clear();
        // Token ids and block tables of every chunk are staged in two engine-owned arrays (no per-step arrays).
        int stagedTokens = plan.TokenCount, stagedBlocks = 0;
        foreach (var c in plan.Chunks) stagedBlocks += c.Request.Blocks.Count;
        if (_tokenStage.Length < stagedTokens) _tokenStage = new int[Math.Max(stagedTokens, _tokenStage.Length * 2)];
        if (_blockStage.Length < stagedBlocks) _blockStage = new int[Math.Max(stagedBlocks, _blockStage.Length * 2)];
        int tokenAt = 0, blockAt = 0;
        foreach (var c in plan.Chunks)
        {
            var r = c.Request;
            r.FirstScheduledAt ??= r.Clock.Elapsed;
            bool completes = c.StartPosition + c.Count == r.Tokens.Count;
            bool wantPrefill = r.Request.PrefillLogProbs && r.GeneratedCount == 0;
            // A chunk carrying drafts needs every row: row j verifies draft j.
            var logits = wantPrefill || (completes && Speculator.HasDraft(r)) ? LogitsWanted.All : completes ? LogitsWanted.Last : LogitsWanted.None;
            CollectionsMarshal.AsSpan(r.Tokens).Slice(c.StartPosition, c.Count).CopyTo(_tokenStage.AsSpan(tokenAt));
            var tokens = _tokenStage.AsMemory(tokenAt, c.Count);
            tokenAt += c.Count;
            CollectionsMarshal.AsSpan(r.Blocks).CopyTo(_blockStage.AsSpan(blockAt));
            var blocks = _blockStage.AsMemory(blockAt, r.Blocks.Count);
            blockAt += r.Blocks.Count;
            ReadOnlyMemory<float> embeddings = default;
            if (r.Request.PrefixEmbeddings is { } pe && c.StartPosition < r.PrefixTokenCount)
            {
                int dim = _model.Config.Dim;
                int rows = Math.Min(c.Count, r.PrefixTokenCount - c.StartPosition);
                embeddings = pe.AsMemory(c.StartPosition * dim, rows * dim);
            }
            _chunks.Add(new SequenceChunk(tokens, c.StartPosition, blocks, logits, embeddings, r.Request.Adapter?.Slot ?? 0));
        }

        var sw = Stopwatch.StartNew();
        var all = _model.Forward(CollectionsMarshal.AsSpan(_chunks), _kv);
        Stats.LastForwardSeconds = sw.Elapsed.TotalSeconds;
        Stats.LastBatchSize = plan.Chunks.Count;
        Stats.Steps++;
        Stats.ForwardTokens += plan.TokenCount;
        return all;
    }

    /// <summary>Advances every chunk's computed count, then samples and emits a token for each request whose known tokens are all computed.</summary>
    private void Update(SchedulerOutput plan, ReadOnlySpan<float> all)
    {
        int vocab = _model.Config.VocabSize;
        int row = 0;
        for (int i = 0; i < plan.Chunks.Count; i++)
        {
            var c = plan.Chunks[i];
            var chunk = _chunks[i];
            int rows = chunk.LogitRows;
            var logits = all.Slice(row * vocab, rows * vocab);
            row += rows;
            // A fault in one request's update (its logits processors, grammar or observers) fails that request only.
            try { UpdateOne(c, chunk, logits); }
            catch (Exception e)
            {
                if (c.Request.Status != RequestStatus.Finished) Fail(c.Request, "processing the request's logits failed: " + e.Message);
            }
        }
    }

    private void UpdateOne(ScheduledChunk c, SequenceChunk chunk, ReadOnlySpan<float> logits)
    {
        var r = c.Request;
        int vocab = _model.Config.VocabSize;
        if (Speculator.HasDraft(r))
        {
            // The verifier advances the computed count only over accepted tokens (and registers only their blocks).
            _speculator!.Verify(r, logits, this);
            return;
        }
        r.NumComputedTokens += c.Count;
        _cache.RegisterFullBlocks(r);
        if (chunk.Logits == LogitsWanted.All) RecordPrefill(r, c, logits);
        if (r.NumTokensToCompute == 0 && logits.Length > 0) SampleAndEmit(r, logits[^vocab..]);
    }

    private void SampleAndEmit(EngineRequest r, ReadOnlySpan<float> logitsRow)
    {
        int position = r.Tokens.Count;
        var logits = ProcessRow(r, logitsRow, position);
        var (token, logprob) = _sampler.Sample(logits, r.Request.Sampling, ref r.Rng);
        r.Tokens.Add(token);
        Emit(r, logits, token, logprob, position);
    }

    /// <summary>The row is the model's buffer; processors edit an engine-owned copy.</summary>
    private Span<float> ProcessRow(EngineRequest r, ReadOnlySpan<float> logitsRow, int length)
    {
        if (_row.Length < logitsRow.Length) _row = new float[logitsRow.Length];
        var logits = _row.AsSpan(0, logitsRow.Length);
        logitsRow.CopyTo(logits);
        var pipeline = r.Pipeline;
        for (int i = 0; i < pipeline.Processors.Count; i++) pipeline.Processors[i].Process(r.StateAt(length), logits);
        return logits;
    }

    /// <summary>Observers, finish checks and the output event for the token now at <paramref name="position"/>; true when it ended the request.</summary>
    private bool Emit(EngineRequest r, ReadOnlySpan<float> logits, int token, float logprob, int position)
    {
        var req = r.Request;
        var pipeline = r.Pipeline;
        for (int i = 0; i < pipeline.Observers.Count; i++) pipeline.Observers[i].Observe(r.StateAt(position), logits, token);
        r.FirstTokenAt ??= r.Clock.Elapsed;
        var stopping = req.Stopping;
        FinishReason? finish = null;
        if (_tokenizer.IsEndOfGeneration(token) && !stopping.IgnoreEos) finish = FinishReason.EosToken;
        else if (position + 1 - r.PromptLength >= stopping.MaxNewTokens) finish = FinishReason.Length;
        else if (req.Constraint is { IsExhausted: true }) finish = FinishReason.EosToken;
        else if (stopping.TimeLimit > TimeSpan.Zero && r.Clock.Elapsed - (r.FirstScheduledAt ?? TimeSpan.Zero) >= stopping.TimeLimit) finish = FinishReason.TimeLimit;
        if (finish is not null) Remove(r);
        r.Output.Writer.TryWrite(new StepOutput(token, logprob, finish));
        if (finish is not null) r.Output.Writer.TryComplete();
        return finish is not null;
    }

    Span<float> ISpeculationHost.ProcessRow(EngineRequest r, ReadOnlySpan<float> row, int length) => ProcessRow(r, row, length);

    bool ISpeculationHost.Emit(EngineRequest r, ReadOnlySpan<float> logits, int token, float logProb, int position) => Emit(r, logits, token, logProb, position);

    private void RecordPrefill(EngineRequest r, ScheduledChunk c, ReadOnlySpan<float> rows)
    {
        int vocab = _model.Config.VocabSize;
        // Entry k is the log-probability of prompt token k (counted after any soft prompt); entry 0 has none.
        if (r.PrefillLogProbs is null)
        {
            r.PrefillLogProbs = new float[r.PromptLength - r.PrefixTokenCount];
            r.PrefillLogProbs.AsSpan().Fill(float.NaN);
        }
        for (int i = 0; i < c.Count; i++)
        {
            int next = c.StartPosition + i + 1;
            if (next <= r.PrefixTokenCount) continue;
            if (next >= r.PromptLength) break;
            r.PrefillLogProbs[next - r.PrefixTokenCount] = Sampler.LogSoftmaxAt(rows.Slice(i * vocab, vocab), r.Tokens[next]);
        }
    }

    /// <summary>Takes a finished, failed or cancelled request out: its blocks, and the draft model's, are freed.</summary>
    private void Remove(EngineRequest r)
    {
        _scheduler.Remove(r);
        _speculator?.Drafter.Release(r);
    }

    private void Fail(EngineRequest r, string message)
    {
        Remove(r);
        r.FailureMessage = message;
        r.Output.Writer.TryWrite(new StepOutput(-1, float.NaN, FinishReason.Error));
        r.Output.Writer.TryComplete();
    }

    private void DropCancelled()
    {
        _cancelled.Clear();
        foreach (var r in _scheduler.Running) if (r.Cancellation.IsCancellationRequested) _cancelled.Add(r);
        foreach (var r in _scheduler.Waiting) if (r.Cancellation.IsCancellationRequested) _cancelled.Add(r);
        foreach (var r in _cancelled)
        {
            Remove(r);
            r.Output.Writer.TryComplete(new OperationCanceledException(r.Cancellation));
        }
    }

    private void PublishStats()
    {
        Stats.RunningRequests = _scheduler.Running.Count;
        Stats.WaitingRequests = _scheduler.Waiting.Count;
        long runningTokens = 0;
        int maxRemaining = 0;
        var running = _scheduler.Running;
        for (int i = 0; i < running.Count; i++)
        {
            var r = running[i];
            runningTokens += r.Tokens.Count;
            maxRemaining = Math.Max(maxRemaining, r.Request.Stopping.MaxNewTokens - r.GeneratedCount);
        }
        Stats.RunningTokens = runningTokens;
        Stats.MaxRemainingTokens = maxRemaining;
        Stats.FreeBlocks = _cache.Pool.FreeBlockCount;
    }

    public async ValueTask DisposeAsync()
    {
        _incoming.Writer.TryComplete();
        _stop.Cancel();
        await Task.Run(() => _thread.Join());
        _stop.Dispose();
    }
}
