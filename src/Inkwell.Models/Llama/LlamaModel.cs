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
        var positions = _s.Positions.AsSpan(0, tokenCount);  // [T] absolute position of each row

        // Token embeddings (or caller-provided input embeddings, e.g. a soft prompt) into the residual stream.
        int row = 0;
        foreach (var chunk in chunks)
        {
            var tokens = chunk.Tokens.Span;
            var embeddings = chunk.InputEmbeddings.Span;
            int embeddedRows = embeddings.Length / dim;
            for (int i = 0; i < chunk.Count; i++, row++)
            {
                positions[row] = chunk.StartPosition + i;
                var dst = x.Slice(row * dim, dim);
                if (i < embeddedRows) embeddings.Slice(i * dim, dim).CopyTo(dst);
                else MatMul.DequantizeRow(Weights.TokenEmbedding, tokens[i], dst);
            }
        }

        // RoPE angles depend only on position: computed once per row, used by every layer.
        int half = c.RopeDim / 2;
        var ropeCos = _s.RopeCos.AsSpan(0, tokenCount * half);  // [T, ropeDim/2]
        var ropeSin = _s.RopeSin.AsSpan(0, tokenCount * half);  // [T, ropeDim/2]
        for (int t = 0; t < tokenCount; t++)
            Rope.Angles(c, positions[t], ropeCos.Slice(t * half, half), ropeSin.Slice(t * half, half));

        for (int l = 0; l < c.LayerCount; l++)
        {
            var w = Weights.Layers[l];

            // Attention: xb = rmsnorm(x); q, k, v = xb·Wqᵀ, xb·Wkᵀ, xb·Wvᵀ (+ bias); RoPE on q and k.
            RmsNormRows(x, w.AttentionNorm, xb, tokenCount);
            MatMul.Multiply(w.Wq, xb, q, tokenCount, _pool);
            MatMul.Multiply(w.Wk, xb, k, tokenCount, _pool);
            MatMul.Multiply(w.Wv, xb, v, tokenCount, _pool);
            if (w.Bq is not null) AddBiasRows(q, w.Bq, tokenCount);
            if (w.Bk is not null) AddBiasRows(k, w.Bk, tokenCount);
            if (w.Bv is not null) AddBiasRows(v, w.Bv, tokenCount);
            for (int t = 0; t < tokenCount; t++)
            {
                var cos = ropeCos.Slice(t * half, half);
                var sin = ropeSin.Slice(t * half, half);
                Rope.Rotate(q.Slice(t * qDim, qDim), c.HeadCount, c, cos, sin);
                Rope.Rotate(k.Slice(t * kvDim, kvDim), c.KvHeadCount, c, cos, sin);
            }

            // Write this layer's new keys and values into their cache slots, then attend over each sequence's past.
            row = 0;
            foreach (var chunk in chunks)
            {
                var table = chunk.BlockTable.Span;
                for (int i = 0; i < chunk.Count; i++, row++)
                {
                    int pos = chunk.StartPosition + i;
                    int slot = pos % kv.BlockSize;
                    int block = table[pos / kv.BlockSize];
                    k.Slice(row * kvDim, kvDim).CopyTo(new Span<float>(kv.KeyBlock(l, block) + slot * kvDim, kvDim));
                    v.Slice(row * kvDim, kvDim).CopyTo(new Span<float>(kv.ValueBlock(l, block) + slot * kvDim, kvDim));
                }
            }
            Attention.Run(chunks, kv, l, q, att, c, _pool, _s);

            // x += att·Woᵀ
            MatMul.Multiply(w.Wo, att, xb, tokenCount, _pool);
            TensorPrimitives.Add(x, xb, x);

            // Feed-forward: x += (silu(xb·Wgateᵀ) * xb·Wupᵀ)·Wdownᵀ with xb = rmsnorm(x).
            RmsNormRows(x, w.FfnNorm, xb, tokenCount);
            MatMul.Multiply(w.WGate, xb, hb, tokenCount, _pool);
            MatMul.Multiply(w.WUp, xb, hb2, tokenCount, _pool);
            SwiGlu(hb, hb2);
            MatMul.Multiply(w.WDown, hb, xb, tokenCount, _pool);
            TensorPrimitives.Add(x, xb, x);
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

    private void RmsNormRows(ReadOnlySpan<float> x, float[] weight, Span<float> y, int rows)
    {
        int dim = Config.Dim;
        for (int t = 0; t < rows; t++) RmsNorm(x.Slice(t * dim, dim), weight, y.Slice(t * dim, dim), Config.RmsNormEps);
    }

    /// <summary>y = x / sqrt(mean(x²) + eps) * weight.</summary>
    internal static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        float ss = TensorPrimitives.Dot(x, x) / x.Length + eps;
        float scale = 1f / MathF.Sqrt(ss);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    private static void AddBiasRows(Span<float> rows, float[] bias, int count)
    {
        for (int t = 0; t < count; t++)
        {
            var r = rows.Slice(t * bias.Length, bias.Length);
            TensorPrimitives.Add(r, bias, r);
        }
    }

    /// <summary>gate = silu(gate) * up, element-wise.</summary>
    private static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    public void Dispose() => Weights.Dispose();

    /// <summary>Per-batch working buffers (llama2.c's RunState), grown to the largest batch seen.</summary>
    internal sealed class RunState(LlamaConfig c)
    {
        public float[] X = [], Xb = [], Q = [], K = [], V = [], AttnOut = [], Hb = [], Hb2 = [], OutRows = [], Logits = [];
        public int[] Positions = [];
        public int[] RowTable = [], Tables = [];  // attention's flattened per-row block-table offsets
        public float[] RopeCos = [], RopeSin = [];
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
                Positions = new int[_tokens];
                RopeCos = new float[_tokens * c.RopeDim / 2];
                RopeSin = new float[_tokens * c.RopeDim / 2];
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
