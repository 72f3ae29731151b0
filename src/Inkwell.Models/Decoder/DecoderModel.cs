using System.Numerics.Tensors;
using Inkwell.Models.Kv;
using Inkwell.Runtime.Attention;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Decoder;

/// <summary>
/// The forward pass of a decoder-only transformer over a batch of sequence chunks and their paged KV block tables,
/// in the spirit of llama2.c's forward(): it reads top to bottom, and every buffer's shape is written beside it.
/// Families differ only in what <see cref="ModelConfig"/> switches on and which weights they bring (norm placement,
/// q/k norms, GeGLU, soft-capping, sliding windows, multipliers); an option that is off costs no pass.
/// Buffers live in <see cref="RunState"/>, allocated once and grown only when a batch is larger than any before.
/// Not thread-safe: one engine thread owns a model instance.
/// </summary>
public sealed unsafe class DecoderModel : ICausalLM
{
    private readonly RunState _s;
    private readonly WorkerPool _pool;
    private readonly Rope _rope;            // RoPE of full-attention layers (and of all when bases agree)
    private readonly Rope? _slidingRope;    // RoPE of sliding-window layers when theirs differs (own base, no scaling)
    private readonly Lora.LoraBatch _lora = new();  // rows by LoRA adapter, rebuilt each pass
    private readonly Lora.LoraBatch _logitLora = new();  // the same for the rows that want logits (the last layer's)

    public DecoderModel(ModelConfig config, DecoderWeights weights, WorkerPool pool)
    {
        Config = config;
        Weights = weights;
        _pool = pool;
        _rope = new Rope(config, config.RopeTheta);
        bool globalScaling = config.RopeLinearScale != 1f || config.Yarn is not null || config.RopeFrequencyFactors is not null;
        if (config.RopeThetaSliding > 0 && (config.RopeThetaSliding != config.RopeTheta || globalScaling) && config.SlidingLayers.Contains(true))
            _slidingRope = new Rope(config with { RopeLinearScale = 1f, Yarn = null, RopeFrequencyFactors = null }, config.RopeThetaSliding);
        _s = new RunState(config, weights.Layers.Max(l => l.FeedForward.ScratchPerRow), weights.Layers.Max(l => l.FeedForward.ScratchPerPass),
            _slidingRope is not null);
        // Every matrix the forward pass multiplies by (not an untied embedding, which is only looked up), as many at a
        // time as the pool has threads: each packs on its own, handing its source pages back as it goes.
        Parallel.ForEach(weights.Layers.SelectMany(l => l.Matrices).Append(weights.Output.Weight),
            new ParallelOptions { MaxDegreeOfParallelism = pool.ThreadCount }, MatMul.Prepare);
    }

    public ModelConfig Config { get; }
    public DecoderWeights Weights { get; }
    public WorkerPool Pool => _pool;
    public long WeightBytes => Weights.WeightBytes;
    public Lora.LoraAdapterSet? Adapters => Weights.Adapters;

    public KvCacheStorage CreateKvCache(int blockSize, int blockCount) =>
        new(Config.LayerCount, Config.KvDim, blockSize, blockCount);

    public ReadOnlySpan<float> Forward(ReadOnlySpan<SequenceChunk> chunks, KvCacheStorage kv)
    {
        var c = Config;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, vocab = c.VocabSize;
        int tokenCount = 0, logitRows = 0;
        foreach (var chunk in chunks)
        {
            ValidateChunk(chunk, kv);
            tokenCount += chunk.Count;
            logitRows += chunk.LogitRows;
        }
        if (tokenCount == 0) return ReadOnlySpan<float>.Empty;
        _s.EnsureCapacity(tokenCount, logitRows);
        var lora = GroupRowsByAdapter(chunks);

        var x = _s.X.AsSpan(0, tokenCount * dim);            // [T, dim] residual stream
        var xb = _s.Xb.AsSpan(0, tokenCount * dim);          // [T, dim] normed input of a sub-block, then its output
        var q = _s.Q.AsSpan(0, tokenCount * qDim);           // [T, heads * headDim]
        var k = _s.K.AsSpan(0, tokenCount * kvDim);          // [T, kvHeads * headDim]
        var v = _s.V.AsSpan(0, tokenCount * kvDim);          // [T, kvHeads * headDim]
        var att = _s.AttnOut.AsSpan(0, tokenCount * qDim);   // [T, heads * headDim] attention output
        var ffnOut = _s.FfnOut.AsSpan(0, tokenCount * dim);  // [T, dim] feed-forward output
        var ffnScratch = _s.FfnScratch.AsSpan(0, tokenCount * _s.FfnScratchPerRow + _s.FfnScratchPerPass);

        // Token embeddings (times the family's embedding scale), or caller-provided input embeddings (e.g. a soft
        // prompt, used as given) into the residual stream.
        int row = 0;
        foreach (var chunk in chunks)
        {
            var tokens = chunk.Tokens.Span;
            var embeddings = chunk.InputEmbeddings.Span;
            int embeddedRows = embeddings.Length / dim;
            for (int i = 0; i < chunk.Count; i++, row++)
            {
                var dst = x.Slice(row * dim, dim);
                if (i < embeddedRows) embeddings.Slice(i * dim, dim).CopyTo(dst);
                else
                {
                    MatMul.DequantizeRow(Weights.TokenEmbedding, tokens[i], dst);
                    if (c.EmbeddingScale != 1f) TensorPrimitives.Multiply(dst, c.EmbeddingScale, dst);
                }
            }
        }

        // Per row: RoPE angles and the KV cache slot, which depend only on position and are used by every layer.
        int ropeDim = c.RopeDim;
        var ropeCos = _s.RopeCos.AsSpan(0, tokenCount * ropeDim);        // [T, ropeDim] cos of each dimension's pair angle
        var ropeSin = _s.RopeSin.AsSpan(0, tokenCount * ropeDim);        // [T, ropeDim] signed sin, see Rope
        var slidingCos = _s.SlidingCos.AsSpan(0, _slidingRope is null ? 0 : tokenCount * ropeDim);  // same, sliding layers
        var slidingSin = _s.SlidingSin.AsSpan(0, slidingCos.Length);
        var slots = _s.Slots.AsSpan(0, tokenCount);                      // [T] cache slot = block * blockSize + offset
        _s.Attention.Reset(c.AttentionShape(0));
        row = 0;
        foreach (var chunk in chunks)
        {
            var table = chunk.BlockTable.Span;
            _s.Attention.Add(chunk.Count, chunk.StartPosition, table);
            for (int i = 0; i < chunk.Count; i++, row++)
            {
                int pos = chunk.StartPosition + i;
                _rope.Angles(pos, ropeCos.Slice(row * ropeDim, ropeDim), ropeSin.Slice(row * ropeDim, ropeDim));
                _slidingRope?.Angles(pos, slidingCos.Slice(row * ropeDim, ropeDim), slidingSin.Slice(row * ropeDim, ropeDim));
                slots[row] = table[pos / kv.BlockSize] * kv.BlockSize + pos % kv.BlockSize;
            }
        }

        // With post-norms only (OLMo 2) a sub-block reads the residual stream itself.
        bool preNorms = c.Norms != NormPlacement.Post;
        var blockInput = preNorms ? xb : x;
        if (preNorms) RowOps.ResidualNorm(_pool, x, default, Weights.Layers[0].AttentionNorm, xb, tokenCount, dim, c.RmsNormEps);
        int rows = tokenCount;  // rows still going through the layers: all of them, then in the last layer only those wanting logits
        var plan = _s.Attention;
        for (int l = 0; l < c.LayerCount; l++)
        {
            var w = Weights.Layers[l];
            bool sliding = c.IsSliding(l);

            // Attention: q, k, v = input·Wqᵀ, input·Wkᵀ, input·Wvᵀ (+ bias); q/k norms and RoPE on q and k; this
            // layer's new keys and values into their cache slots; then attend over each sequence's past (or window).
            w.Wq.Apply(blockInput, q, rows, _pool, lora);
            w.Wk.Apply(blockInput, k, rows, _pool, lora);
            w.Wv.Apply(blockInput, v, rows, _pool, lora);
            bool ownRope = sliding && _slidingRope is not null;
            PrepareAttentionInputs(w, kv, l, q, k, v, c.UsesRope(l), ownRope ? slidingCos : ropeCos, ownRope ? slidingSin : ropeSin,
                ownRope ? _slidingRope! : _rope, slots, rows);

            // The last layer's keys and values are cached now, and the rest of it feeds only the logits: from here on
            // only the rows that want logits go on (llama.cpp cuts to its output rows at the same layer). A prompt's
            // prefill thus skips the last layer's attention, Wo and feed-forward for all but its last row.
            if (l == c.LayerCount - 1 && logitRows < rows)
            {
                rows = KeepLogitRows(chunks, x, q, ref lora);
                if (rows == 0) break;
                plan = _s.LogitAttention;
                x = x[..(rows * dim)];
                xb = xb[..(rows * dim)];
                q = q[..(rows * qDim)];
                att = att[..(rows * qDim)];
                ffnOut = ffnOut[..(rows * dim)];
                ffnScratch = ffnScratch[..(rows * _s.FfnScratchPerRow + _s.FfnScratchPerPass)];
                blockInput = preNorms ? xb : x;
            }
            PagedAttention.Run(plan, kv.KeyBlock(l, 0), kv.ValueBlock(l, 0), kv.BlockSize, c.AttentionShape(l), q, att, _pool);

            // x += postnorm(att·Woᵀ) · residual scale; xb = ffnnorm(x)
            w.Wo.Apply(att, xb, rows, _pool, lora);
            RowOps.ResidualNorm(_pool, x, xb, w.FfnNorm, xb, rows, dim, c.RmsNormEps, w.PostAttentionNorm, c.ResidualScale);

            // Feed-forward: x += postnorm(ffn(xb)) · residual scale, then the next layer's xb = rmsnorm(x).
            w.FeedForward.Forward(blockInput, ffnOut, ffnScratch, rows, _pool, lora);
            var nextNorm = l + 1 < c.LayerCount ? Weights.Layers[l + 1].AttentionNorm : null;
            RowOps.ResidualNorm(_pool, x, ffnOut, nextNorm, xb, rows, dim, c.RmsNormEps, w.PostFfnNorm, c.ResidualScale);
        }

        // Final norm and classifier over the rows that want logits, now the first logitRows rows of x in chunk
        // order; then the family's logit scale and soft cap.
        var outRows = _s.OutRows.AsSpan(0, logitRows * dim);  // [R, dim]
        var logits = _s.Logits.AsSpan(0, logitRows * vocab);  // [R, vocab]
        if (logitRows == 0) return logits;
        for (int r = 0; r < logitRows; r++)
            RowOps.RmsNorm(x.Slice(r * dim, dim), Weights.OutputNorm, outRows.Slice(r * dim, dim), c.RmsNormEps);
        Weights.Output.Apply(outRows, logits, logitRows, _pool);
        if (c.LogitScale != 1f) TensorPrimitives.Multiply(logits, c.LogitScale, logits);
        if (c.FinalLogitSoftCap > 0f)
        {
            TensorPrimitives.Multiply(logits, 1f / c.FinalLogitSoftCap, logits);
            TensorPrimitives.Tanh(logits, logits);
            TensorPrimitives.Multiply(logits, c.FinalLogitSoftCap, logits);
        }
        return logits;
    }

    /// <summary>
    /// Moves the rows that want logits (each chunk's last <see cref="SequenceChunk.LogitRows"/>) to the front of the
    /// residual stream and the queries, in chunk order, and plans their attention and adapters; returns their count.
    /// </summary>
    private int KeepLogitRows(ReadOnlySpan<SequenceChunk> chunks, Span<float> x, Span<float> q, ref Lora.LoraBatch? lora)
    {
        int dim = Config.Dim, qDim = Config.QDim;
        _s.LogitAttention.Reset(Config.AttentionShape(0));
        int row = 0, kept = 0;
        foreach (var chunk in chunks)
        {
            int count = chunk.LogitRows, first = row + chunk.Count - count;
            row += chunk.Count;
            if (count == 0) continue;
            // kept ≤ first: each copy moves rows down or leaves them in place, never over rows still to be moved.
            x.Slice(first * dim, count * dim).CopyTo(x.Slice(kept * dim));
            q.Slice(first * qDim, count * qDim).CopyTo(q.Slice(kept * qDim));
            _s.LogitAttention.Add(count, chunk.StartPosition + chunk.Count - count, chunk.BlockTable.Span);
            kept += count;
        }
        if (lora is not null)
        {
            GroupByAdapter(_logitLora, chunks, logitRowsOnly: true);
            lora = _logitLora;
        }
        return kept;
    }

    /// <summary>Each chunk's rows under its adapter, grouped for the projections; null when every row is on the base model.</summary>
    private Lora.LoraBatch? GroupRowsByAdapter(ReadOnlySpan<SequenceChunk> chunks)
    {
        bool any = false;
        foreach (var chunk in chunks) any |= chunk.Adapter != 0;
        if (!any) return null;
        GroupByAdapter(_lora, chunks, logitRowsOnly: false);
        return _lora;
    }

    /// <summary>Fills <paramref name="batch"/> with every row of the chunks, or only their logit rows, in chunk order.</summary>
    private static void GroupByAdapter(Lora.LoraBatch batch, ReadOnlySpan<SequenceChunk> chunks, bool logitRowsOnly)
    {
        int total = 0;
        foreach (var chunk in chunks) total += logitRowsOnly ? chunk.LogitRows : chunk.Count;
        batch.Reset(total);
        int row = 0;
        foreach (var chunk in chunks)
        {
            int rows = logitRowsOnly ? chunk.LogitRows : chunk.Count;
            batch.Assign(row, rows, chunk.Adapter);
            row += rows;
        }
        batch.Seal();
    }

    private void ValidateChunk(in SequenceChunk chunk, KvCacheStorage kv)
    {
        int adapters = Weights.Adapters?.Adapters.Count ?? 0;
        if ((uint)chunk.Adapter > (uint)adapters)
            throw new ArgumentOutOfRangeException(nameof(chunk), $"LoRA adapter slot {chunk.Adapter} does not exist ({adapters} adapters are attached)");
        int end = chunk.StartPosition + chunk.Count;
        if (chunk.StartPosition < 0 || end > Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(chunk), $"positions {chunk.StartPosition}..{end} exceed the context length {Config.ContextLength}");
        if ((end + kv.BlockSize - 1) / kv.BlockSize > chunk.BlockTable.Length)
            throw new ArgumentException($"block table of {chunk.BlockTable.Length} blocks cannot hold {end} positions");
        foreach (int t in chunk.Tokens.Span)
        {
            if ((uint)t >= (uint)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(chunk), $"token id {t} is outside the vocabulary of {Config.VocabSize}");
        }
        if (chunk.InputEmbeddings.Length % Config.Dim != 0 || chunk.InputEmbeddings.Length / Config.Dim > chunk.Count)
            throw new ArgumentException($"input embeddings of {chunk.InputEmbeddings.Length} floats are not whole rows of {Config.Dim} within the chunk");
    }

    /// <summary>Per row: q/k norms; RoPE on q and k (when the layer has it); k and v into this layer's cache slots.</summary>
    private void PrepareAttentionInputs(DecoderLayerWeights w, KvCacheStorage kv, int layer, Span<float> q, Span<float> k, Span<float> v,
        bool rotate, Span<float> ropeCos, Span<float> ropeSin, Rope rope, Span<int> slots, int rows)
    {
        fixed (float* qp = q, kp = k, vp = v, cos = ropeCos, sin = ropeSin)
        fixed (int* slotp = slots)
        {
            var body = new AttentionInputBody
            {
                Q = qp, K = kp, V = vp, Cos = rotate ? cos : null, Sin = sin, Slots = slotp,
                KeyCache = kv.KeyBlock(layer, 0), ValueCache = kv.ValueBlock(layer, 0),
                QNorm = w.QNorm, KNorm = w.KNorm, Rope = rope, Config = Config,
            };
            RowOps.Run(_pool, rows, Config.QDim + 2 * Config.KvDim, ref body);
        }
    }

    private struct AttentionInputBody : IRangeBody
    {
        public float* Q, K, V, Cos, Sin, KeyCache, ValueCache;
        public int* Slots;
        public float[]? QNorm, KNorm;
        public Rope Rope;
        public ModelConfig Config;

        public void Invoke(int start, int end)
        {
            var c = Config;
            int qDim = c.QDim, kvDim = c.KvDim, ropeDim = c.RopeDim;
            for (int t = start; t < end; t++)
            {
                var q = new Span<float>(Q + (long)t * qDim, qDim);
                var k = new Span<float>(K + (long)t * kvDim, kvDim);
                var v = new Span<float>(V + (long)t * kvDim, kvDim);
                if (QNorm is not null) NormHeads(q, QNorm, c);
                if (KNorm is not null) NormHeads(k, KNorm, c);
                if (Cos != null)
                {
                    float* cos = Cos + (long)t * ropeDim, sin = Sin + (long)t * ropeDim;
                    Rope.Rotate(Q + (long)t * qDim, c.HeadCount, cos, sin);
                    Rope.Rotate(K + (long)t * kvDim, c.KvHeadCount, cos, sin);
                }
                long slot = (long)Slots[t] * kvDim;
                k.CopyTo(new Span<float>(KeyCache + slot, kvDim));
                v.CopyTo(new Span<float>(ValueCache + slot, kvDim));
            }
        }

        private static void NormHeads(Span<float> vec, float[] weight, ModelConfig c)
        {
            if (c.QkNorm == QkNorm.AcrossHeads) RowOps.RmsNorm(vec, weight, vec, c.RmsNormEps);
            else
                for (int h = 0; h < vec.Length; h += c.HeadDim) RowOps.RmsNorm(vec.Slice(h, c.HeadDim), weight, vec.Slice(h, c.HeadDim), c.RmsNormEps);
        }
    }

    public void Dispose() => Weights.Dispose();

    /// <summary>Per-batch working buffers (llama2.c's RunState), grown to the largest batch seen.</summary>
    internal sealed class RunState(ModelConfig c, int ffnScratchPerRow, int ffnScratchPerPass, bool slidingRope)
    {
        public float[] X = [], Xb = [], Q = [], K = [], V = [], AttnOut = [], FfnOut = [], FfnScratch = [], OutRows = [], Logits = [];
        public int[] Slots = [];
        public float[] RopeCos = [], RopeSin = [], SlidingCos = [], SlidingSin = [];
        public readonly AttentionPlan Attention = new();
        public readonly AttentionPlan LogitAttention = new();  // the last layer's, for the rows that want logits
        public readonly int FfnScratchPerRow = ffnScratchPerRow, FfnScratchPerPass = ffnScratchPerPass;
        private int _tokens, _logitRows;

        public void EnsureCapacity(int tokens, int logitRows)
        {
            if (tokens > _tokens)
            {
                _tokens = Math.Max(tokens, _tokens * 2);
                X = Alloc(_tokens * c.Dim);
                Xb = Alloc(_tokens * c.Dim);
                Q = Alloc(_tokens * c.QDim);
                K = Alloc(_tokens * c.KvDim);
                V = Alloc(_tokens * c.KvDim);
                AttnOut = Alloc(_tokens * c.QDim);
                FfnOut = Alloc(_tokens * c.Dim);
                FfnScratch = Alloc(_tokens * FfnScratchPerRow + FfnScratchPerPass);
                Slots = new int[_tokens];
                RopeCos = new float[_tokens * c.RopeDim];
                RopeSin = new float[_tokens * c.RopeDim];
                SlidingCos = slidingRope ? new float[_tokens * c.RopeDim] : [];
                SlidingSin = slidingRope ? new float[_tokens * c.RopeDim] : [];
            }
            if (logitRows > _logitRows)
            {
                _logitRows = Math.Max(logitRows, _logitRows * 2);
                OutRows = Alloc(_logitRows * c.Dim);
                Logits = Alloc(_logitRows * c.VocabSize);
            }
        }

        private static float[] Alloc(int n) => GC.AllocateUninitializedArray<float>(n, pinned: true);
    }
}
