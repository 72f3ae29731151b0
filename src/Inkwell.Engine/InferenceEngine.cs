using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Inkwell.Engine.Decoding;
using Inkwell.Engine.KvCache;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Engine.Scheduling;
using Inkwell.Models.Kv;
using Inkwell.Models.Llama;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine;

/// <summary>One engine step, as the server's metrics see it.</summary>
public readonly record struct EngineStepReport(int BatchSize, int PrefillTokens, int DecodeTokens, double ForwardSeconds, double StepSeconds);

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
}

/// <summary>
/// The engine loop: one thread owns the model, the KV cache and the scheduler. Each step schedules a token budget,
/// runs one forward pass over every scheduled chunk, samples the rows that finished their known tokens, applies
/// stop criteria and cancellations, and frees finished requests' blocks. Requests come in through a channel;
/// each request's tokens go out through its own channel.
/// </summary>
public sealed class InferenceEngine : IAsyncDisposable
{
    private readonly LlamaModel _model;
    private readonly Tokenizer _tokenizer;
    private readonly KvCacheStorage _kv;
    private readonly KvCacheManager _cache;
    private readonly Scheduler _scheduler;
    private readonly Sampler _sampler = new();
    private readonly Channel<EngineRequest> _incoming = Channel.CreateUnbounded<EngineRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly List<SequenceChunk> _chunks = [];
    private readonly List<EngineRequest> _cancelled = [];
    private int[] _tokenStage = new int[256];
    private int[] _blockStage = new int[256];
    private long _nextId;
    private volatile Exception? _fatal;

    public InferenceEngine(LlamaModel model, Tokenizer tokenizer, EngineOptions options)
    {
        _model = model;
        _tokenizer = tokenizer;
        Options = options;
        int blocks = (options.KvCacheTokens + options.BlockSize - 1) / options.BlockSize;
        _kv = model.CreateKvCache(options.BlockSize, blocks);
        _cache = new KvCacheManager(new BlockPool(blocks, options.BlockSize, options.PrefixCaching), _kv.CopyBlock);
        _scheduler = new Scheduler(options.Scheduler, _cache);
        Stats.FreeBlocks = blocks;
        _thread = new Thread(Loop) { Name = "inkwell-engine", IsBackground = true };
        _thread.Start();
    }

    public EngineOptions Options { get; }
    public EngineStats Stats { get; } = new();
    public LlamaModel Model => _model;
    public Tokenizer Tokenizer => _tokenizer;
    public int KvCapacityTokens => _kv.TokenCapacity;
    public BlockPool BlockPool => _cache.Pool;
    public bool IsHealthy => _fatal is null && _thread.IsAlive;

    /// <summary>Called on the engine thread after each step (keep it cheap).</summary>
    public Action<EngineStepReport>? StepObserver { get; set; }

    /// <summary>Queues a request; its events arrive on the returned reader. Cancelling the token removes it at the next step.</summary>
    public ChannelReader<GenerationEvent> Submit(GenerationRequest request, CancellationToken cancellation = default)
    {
        if (_fatal is not null) throw new InvalidOperationException("the engine has stopped after an error: " + _fatal.Message);
        int prefixRows = request.PrefixEmbeddings is { } p ? p.Length / _model.Config.Dim : 0;
        var r = new EngineRequest(Interlocked.Increment(ref _nextId), request, prefixRows, cancellation);
        if (r.Tokens.Count + request.Stopping.MaxNewTokens > _kv.TokenCapacity)
            throw new ArgumentException($"request needs {r.Tokens.Count + request.Stopping.MaxNewTokens} tokens but the KV cache holds {_kv.TokenCapacity}");
        if (!_incoming.Writer.TryWrite(r)) throw new InvalidOperationException("the engine is shutting down");
        return r.Output.Reader;
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
        var plan = _scheduler.Schedule();
        Stats.Preemptions += plan.Preempted.Count;
        if (plan.IsEmpty)
        {
            // Nothing fits: only possible if a single request outgrew the cache; fail the oldest waiting one.
            if (_scheduler.Running.Count == 0 && _scheduler.Waiting.FirstOrDefault() is { } stuck) Fail(stuck, "request does not fit in the KV cache");
            return;
        }

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
            var logits = wantPrefill ? LogitsWanted.All : completes ? LogitsWanted.Last : LogitsWanted.None;
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
            _chunks.Add(new SequenceChunk(tokens, c.StartPosition, blocks, logits, embeddings));
        }

        var sw = Stopwatch.StartNew();
        var all = _model.Forward(CollectionsMarshal.AsSpan(_chunks), _kv);
        Stats.LastForwardSeconds = sw.Elapsed.TotalSeconds;
        Stats.LastBatchSize = plan.Chunks.Count;
        Stats.Steps++;
        Stats.ForwardTokens += plan.TokenCount;

        int vocab = _model.Config.VocabSize;
        int row = 0;
        for (int i = 0; i < plan.Chunks.Count; i++)
        {
            var c = plan.Chunks[i];
            var chunk = _chunks[i];
            var r = c.Request;
            int rows = chunk.LogitRows;
            r.NumComputedTokens += c.Count;
            _cache.RegisterFullBlocks(r);
            if (chunk.Logits == LogitsWanted.All) RecordPrefill(r, c, all.Slice(row * vocab, rows * vocab));
            if (r.NumTokensToCompute == 0 && rows > 0)
            {
                // Logits are the engine's buffer; copying one row is cheap and lets processors edit it in place.
                var last = all.Slice((row + rows - 1) * vocab, vocab);
                SampleAndEmit(r, last);
            }
            row += rows;
        }
        PublishStats();
        if (StepObserver is { } observe)
        {
            int decode = plan.Chunks.Count(c => c.Count == 1 && c.StartPosition >= c.Request.PromptLength);
            observe(new EngineStepReport(plan.Chunks.Count, plan.TokenCount - decode, decode, Stats.LastForwardSeconds, stepClock.Elapsed.TotalSeconds));
        }
    }

    private float[] _row = [];

    private void SampleAndEmit(EngineRequest r, ReadOnlySpan<float> logitsRow)
    {
        if (_row.Length < logitsRow.Length) _row = new float[logitsRow.Length];
        var logits = _row.AsSpan(0, logitsRow.Length);
        logitsRow.CopyTo(logits);
        var req = r.Request;
        var sampling = req.Sampling;
        if (r.GeneratedCount < req.Stopping.MinNewTokens || req.Stopping.IgnoreEos)
        {
            foreach (int eos in _tokenizer.EndOfGenerationIds) if ((uint)eos < (uint)logits.Length) logits[eos] = float.NegativeInfinity;
        }
        req.Constraint?.Mask(logits, req.Stopping.MaxNewTokens - r.GeneratedCount);
        if ((sampling.FrequencyPenalty != 0 || sampling.PresencePenalty != 0) && r.GeneratedCounts is null) r.GeneratedCounts = new int[logits.Length];

        IReadOnlyList<TokenInfo>? top = req.TopNTokens > 0 ? TopTokens(logits, req.TopNTokens) : null;
        var history = CollectionsMarshal.AsSpan(r.Tokens).Slice(r.PrefixTokenCount);
        var (token, logprob) = _sampler.Sample(logits, sampling, history, r.GeneratedCounts, ref r.Rng);
        if (r.GeneratedCounts is not null) r.GeneratedCounts[token]++;
        req.Constraint?.Advance(token);

        r.Tokens.Add(token);
        r.FirstTokenAt ??= r.Clock.Elapsed;
        bool special = _tokenizer.IsSpecial(token);
        // The decoder starts after the last prompt token, so a first piece right after BOS loses SentencePiece's space.
        r.Text ??= new TextAccumulator(
            _tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: r.Tokens[r.PromptLength - 1]),
            req.Stopping.StopSequences);
        string text = special ? _tokenizer.TokenText(token) : r.Text.Append(token);
        var info = new TokenInfo(token, text, logprob, special);
        r.GeneratedTokens.Add(info);
        if (top is not null) (r.TopTokens ??= []).Add(top);
        FinishReason? finish = null;
        if (_tokenizer.IsEndOfGeneration(token) && !req.Stopping.IgnoreEos) finish = FinishReason.EosToken;
        else if (r.Text.MatchedStop is not null) finish = FinishReason.StopSequence;
        else if (r.GeneratedCount >= req.Stopping.MaxNewTokens) finish = FinishReason.Length;
        else if (req.Constraint is { IsExhausted: true }) finish = FinishReason.EosToken;
        else if (req.Stopping.TimeLimit > TimeSpan.Zero && r.Clock.Elapsed - (r.FirstScheduledAt ?? TimeSpan.Zero) >= req.Stopping.TimeLimit) finish = FinishReason.TimeLimit;
        var final = finish is { } reason ? Finish(r, reason) : null;
        r.Output.Writer.TryWrite(new TokenGenerated(info, top, r.GeneratedCount - 1, final));
        if (final is not null)
        {
            r.Output.Writer.TryWrite(new GenerationFinished(final));
            r.Output.Writer.TryComplete();
        }
    }

    /// <summary>The n most likely tokens (ties: lower id first) with log-probabilities, in one pass over the row.</summary>
    private List<TokenInfo> TopTokens(ReadOnlySpan<float> logits, int n)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        float logSum = (float)Math.Log(sum) + max;

        // ids[0..count) kept sorted by descending logit; a candidate enters only if it beats the current last.
        Span<int> ids = n <= 64 ? stackalloc int[n] : new int[n];
        int count = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNegativeInfinity(l) || (count == n && l <= logits[ids[count - 1]])) continue;
            int at = count < n ? count++ : n - 1;
            while (at > 0 && l > logits[ids[at - 1]]) { ids[at] = ids[at - 1]; at--; }
            ids[at] = i;
        }
        var best = new List<TokenInfo>(count);
        foreach (int id in ids[..count]) best.Add(new TokenInfo(id, _tokenizer.TokenText(id), logits[id] - logSum, _tokenizer.IsSpecial(id)));
        return best;
    }

    private void RecordPrefill(EngineRequest r, ScheduledChunk c, ReadOnlySpan<float> rows)
    {
        int vocab = _model.Config.VocabSize;
        r.Prefill ??= [];
        for (int i = 0; i < c.Count; i++)
        {
            int pos = c.StartPosition + i;
            if (pos < r.PrefixTokenCount) continue;
            if (r.Prefill.Count == 0 && pos == r.PrefixTokenCount)
            {
                int first = r.Tokens[pos];
                r.Prefill.Add(new TokenInfo(first, _tokenizer.TokenText(first), float.NaN, _tokenizer.IsSpecial(first)));
            }
            int next = pos + 1;
            if (next >= r.PromptLength) break;
            int t = r.Tokens[next];
            r.Prefill.Add(new TokenInfo(t, _tokenizer.TokenText(t), Sampler.LogSoftmaxAt(rows.Slice(i * vocab, vocab), t), _tokenizer.IsSpecial(t)));
        }
    }

    /// <summary>Takes the request out of the engine (freeing its blocks) and builds its result.</summary>
    private GenerationResult Finish(EngineRequest r, FinishReason reason)
    {
        _scheduler.Remove(r);
        return new GenerationResult
        {
            GeneratedText = r.Text?.Text ?? "",
            FinishReason = reason,
            Tokens = r.GeneratedTokens,
            TopTokens = r.TopTokens,
            Prefill = r.Prefill,
            StopSequence = r.Text?.MatchedStop,
            Seed = r.Request.Sampling.IsSampling ? r.Request.Sampling.Seed : null,
            PromptTokenCount = r.PromptLength - r.PrefixTokenCount,
            QueueTime = r.FirstScheduledAt ?? r.Clock.Elapsed,
            InferenceTime = r.Clock.Elapsed - (r.FirstScheduledAt ?? r.Clock.Elapsed),
            TimeToFirstToken = r.FirstTokenAt ?? r.Clock.Elapsed,
        };
    }

    private void Fail(EngineRequest r, string message)
    {
        _scheduler.Remove(r);
        r.Output.Writer.TryWrite(new GenerationFailed(message));
        r.Output.Writer.TryComplete();
    }

    private void DropCancelled()
    {
        _cancelled.Clear();
        foreach (var r in _scheduler.Running) if (r.Cancellation.IsCancellationRequested) _cancelled.Add(r);
        foreach (var r in _scheduler.Waiting) if (r.Cancellation.IsCancellationRequested) _cancelled.Add(r);
        foreach (var r in _cancelled)
        {
            _scheduler.Remove(r);
            r.Output.Writer.TryComplete(new OperationCanceledException(r.Cancellation));
        }
    }

    private void PublishStats()
    {
        Stats.RunningRequests = _scheduler.Running.Count;
        Stats.WaitingRequests = _scheduler.Waiting.Count;
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
