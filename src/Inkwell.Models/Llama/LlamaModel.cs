using System.Numerics.Tensors;
using Inkwell.Models.Kv;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Llama;

/// <summary>
/// The Llama-family forward pass over a batch of sequence chunks and their paged KV block tables, in the spirit of
/// llama2.c's forward(): it reads top to bottom, and every buffer's shape is written beside it. Buffers live in
/// <see cref="RunState"/>, allocated once and grown only when a batch is larger than any before.
/// Not thread-safe: one engine thread owns a model instance.
/// </summary>
public sealed unsafe class LlamaModel : IDisposable
{
    private readonly RunState _s;
    private readonly WorkerPool _pool;

    public LlamaModel(LlamaConfig config, LlamaWeights weights, WorkerPool pool)
    {
        Config = config;
        Weights = weights;
        _pool = pool;
        _s = new RunState(config);
    }

    public LlamaConfig Config { get; }
    public LlamaWeights Weights { get; }
    public WorkerPool Pool => _pool;

    public KvCacheStorage CreateKvCache(int blockSize, int blockCount) =>
        new(Config.LayerCount, Config.KvDim, blockSize, blockCount);

    /// <summary>
    /// A private cache for one sequence of up to <paramref name="tokens"/> positions and its block table (blocks in
    /// order), for callers that run the model directly without the engine's block pool (bench, perplexity, tests).
    /// </summary>
    public (KvCacheStorage Kv, int[] BlockTable) CreateSequenceCache(int tokens, int blockSize = 16)
    {
        int blocks = Math.Max(1, (tokens + blockSize - 1) / blockSize);
        return (CreateKvCache(blockSize, blocks), Enumerable.Range(0, blocks).ToArray());
    }

    /// <summary>
    /// Runs the chunks through the model, writing their keys and values into <paramref name="kv"/>, and returns
    /// logits [rows, vocab] for the rows the chunks asked for, in chunk order. The span is valid until the next call.
    /// </summary>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<SequenceChunk> chunks, KvCacheStorage kv)
    {
        var c = Config;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim, vocab = c.VocabSize;
        int tokenCount = 0, logitRows = 0;
        foreach (var chunk in chunks)
        {
            ValidateChunk(chunk, kv);
            tokenCount += chunk.Count;
            logitRows += chunk.LogitRows;
        }
        if (tokenCount == 0) return ReadOnlySpan<float>.Empty;
        _s.EnsureCapacity(tokenCount, logitRows);

        var x = _s.X.AsSpan(0, tokenCount * dim);            // [T, dim] residual stream
        var xb = _s.Xb.AsSpan(0, tokenCount * dim);          // [T, dim] normed input of a sub-block
        var q = _s.Q.AsSpan(0, tokenCount * qDim);           // [T, heads * headDim]
        var k = _s.K.AsSpan(0, tokenCount * kvDim);          // [T, kvHeads * headDim]
        var v = _s.V.AsSpan(0, tokenCount * kvDim);          // [T, kvHeads * headDim]
        var att = _s.AttnOut.AsSpan(0, tokenCount * qDim);   // [T, heads * headDim] attention output
        var hb = _s.Hb.AsSpan(0, tokenCount * hidden);       // [T, hidden] gate, then SwiGLU output
        var hb2 = _s.Hb2.AsSpan(0, tokenCount * hidden);     // [T, hidden] up projection

        // Token embeddings (or caller-provided input embeddings, e.g. a soft prompt) into the residual stream.
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
                else MatMul.DequantizeRow(Weights.TokenEmbedding, tokens[i], dst);
            }
        }

        // Per row: RoPE angles and the KV cache slot, which depend only on position and are used by every layer.
        int ropeDim = c.RopeDim;
        var ropeCos = _s.RopeCos.AsSpan(0, tokenCount * ropeDim);  // [T, ropeDim] cos of each dimension's pair angle
        var ropeSin = _s.RopeSin.AsSpan(0, tokenCount * ropeDim);  // [T, ropeDim] signed sin, see Rope
        var slots = _s.Slots.AsSpan(0, tokenCount);                // [T] cache slot = block * blockSize + offset
        row = 0;
        foreach (var chunk in chunks)
        {
            var table = chunk.BlockTable.Span;
            for (int i = 0; i < chunk.Count; i++, row++)
            {
                int pos = chunk.StartPosition + i;
                Rope.Angles(c, _s.RopeFrequencies, pos, ropeCos.Slice(row * ropeDim, ropeDim), ropeSin.Slice(row * ropeDim, ropeDim));
                slots[row] = table[pos / kv.BlockSize] * kv.BlockSize + pos % kv.BlockSize;
            }
        }
        _s.Attention.Build(chunks, c);

        RowOps.ResidualNorm(_pool, x, default, Weights.Layers[0].AttentionNorm, xb, tokenCount, dim, c.RmsNormEps);
        for (int l = 0; l < c.LayerCount; l++)
        {
            var w = Weights.Layers[l];

            // Attention: xb = rmsnorm(x) (done above); q, k, v = xb·Wqᵀ, xb·Wkᵀ, xb·Wvᵀ (+ bias); RoPE on q and k;
            // this layer's new keys and values into their cache slots; then attend over each sequence's past.
            MatMul.Multiply(w.Wq, xb, q, tokenCount, _pool);
            MatMul.Multiply(w.Wk, xb, k, tokenCount, _pool);
            MatMul.Multiply(w.Wv, xb, v, tokenCount, _pool);
            PrepareAttentionInputs(w, kv, l, q, k, v, ropeCos, ropeSin, slots, tokenCount);
            Attention.Run(_s.Attention, kv, l, q, att, c, _pool);

            // x += att·Woᵀ; xb = rmsnorm(x)
            MatMul.Multiply(w.Wo, att, xb, tokenCount, _pool);
            RowOps.ResidualNorm(_pool, x, xb, w.FfnNorm, xb, tokenCount, dim, c.RmsNormEps);

            // Feed-forward: x += (silu(xb·Wgateᵀ) * xb·Wupᵀ)·Wdownᵀ, then the next layer's xb = rmsnorm(x).
            MatMul.Multiply(w.WGate, xb, hb, tokenCount, _pool);
            MatMul.Multiply(w.WUp, xb, hb2, tokenCount, _pool);
            RowOps.SwiGlu(_pool, hb, hb2, tokenCount, hidden);
            MatMul.Multiply(w.WDown, hb, xb, tokenCount, _pool);
            var nextNorm = l + 1 < c.LayerCount ? Weights.Layers[l + 1].AttentionNorm : null;
            RowOps.ResidualNorm(_pool, x, xb, nextNorm, xb, tokenCount, dim, c.RmsNormEps);
        }

        // Final norm and classifier, only for the rows that need logits.
        var outRows = _s.OutRows.AsSpan(0, logitRows * dim);  // [R, dim]
        var logits = _s.Logits.AsSpan(0, logitRows * vocab);  // [R, vocab]
        int r = 0;
        row = 0;
        foreach (var chunk in chunks)
        {
            int first = chunk.Logits == LogitsWanted.All ? 0 : chunk.Count - chunk.LogitRows;
            for (int i = first; i < chunk.Count; i++, r++)
                RmsNorm(x.Slice((row + i) * dim, dim), Weights.OutputNorm, outRows.Slice(r * dim, dim), c.RmsNormEps);
            row += chunk.Count;
        }
        if (logitRows > 0) MatMul.Multiply(Weights.Output, outRows, logits, logitRows, _pool);
        return logits;
    }

    private void ValidateChunk(in SequenceChunk chunk, KvCacheStorage kv)
    {
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

    /// <summary>y = x / sqrt(mean(x²) + eps) * weight.</summary>
    internal static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        float ss = TensorPrimitives.Dot(x, x) / x.Length + eps;
        float scale = 1f / MathF.Sqrt(ss);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>Per row: biases on q, k, v; RoPE on q and k; k and v into this layer's cache slots.</summary>
    private void PrepareAttentionInputs(LlamaLayerWeights w, KvCacheStorage kv, int layer, Span<float> q, Span<float> k, Span<float> v,
        Span<float> ropeCos, Span<float> ropeSin, Span<int> slots, int rows)
    {
        fixed (float* qp = q, kp = k, vp = v, cos = ropeCos, sin = ropeSin)
        fixed (int* slotp = slots)
        {
            var body = new AttentionInputBody
            {
                Q = qp, K = kp, V = vp, Cos = cos, Sin = sin, Slots = slotp,
                KeyCache = kv.KeyBlock(layer, 0), ValueCache = kv.ValueBlock(layer, 0),
                Bq = w.Bq, Bk = w.Bk, Bv = w.Bv, Config = Config,
            };
            RowOps.Run(_pool, rows, Config.QDim + 2 * Config.KvDim, ref body);
        }
    }

    private struct AttentionInputBody : IRangeBody
    {
        public float* Q, K, V, Cos, Sin, KeyCache, ValueCache;
        public int* Slots;
        public float[]? Bq, Bk, Bv;
        public LlamaConfig Config;

        public void Invoke(int start, int end)
        {
            var c = Config;
            int qDim = c.QDim, kvDim = c.KvDim, ropeDim = c.RopeDim;
            for (int t = start; t < end; t++)
            {
                var q = new Span<float>(Q + (long)t * qDim, qDim);
                var k = new Span<float>(K + (long)t * kvDim, kvDim);
                var v = new Span<float>(V + (long)t * kvDim, kvDim);
                if (Bq is not null) TensorPrimitives.Add(q, Bq, q);
                if (Bk is not null) TensorPrimitives.Add(k, Bk, k);
                if (Bv is not null) TensorPrimitives.Add(v, Bv, v);
                float* cos = Cos + (long)t * ropeDim, sin = Sin + (long)t * ropeDim;
                Rope.Rotate(Q + (long)t * qDim, c.HeadCount, c, cos, sin);
                Rope.Rotate(K + (long)t * kvDim, c.KvHeadCount, c, cos, sin);
                long slot = (long)Slots[t] * kvDim;
                k.CopyTo(new Span<float>(KeyCache + slot, kvDim));
                v.CopyTo(new Span<float>(ValueCache + slot, kvDim));
            }
        }
    }

    public void Dispose() => Weights.Dispose();

    /// <summary>Per-batch working buffers (llama2.c's RunState), grown to the largest batch seen.</summary>
    internal sealed class RunState(LlamaConfig c)
    {
        public float[] X = [], Xb = [], Q = [], K = [], V = [], AttnOut = [], Hb = [], Hb2 = [], OutRows = [], Logits = [];
        public int[] Slots = [];
        public float[] RopeCos = [], RopeSin = [];
        public readonly float[] RopeFrequencies = Rope.Frequencies(c);
        public readonly AttentionPlan Attention = new();
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
                Hb = Alloc(_tokens * c.HiddenDim);
                Hb2 = Alloc(_tokens * c.HiddenDim);
                Slots = new int[_tokens];
                RopeCos = new float[_tokens * c.RopeDim];
                RopeSin = new float[_tokens * c.RopeDim];
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
