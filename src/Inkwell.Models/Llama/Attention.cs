using System.Numerics.Tensors;
using Inkwell.Models.Kv;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Llama;

/// <summary>
/// Causal grouped-query attention over a paged KV cache. Each (row, head) pair is independent: the query attends to
/// positions 0..pos of its own sequence, read block by block through the sequence's block table, with an online
/// softmax (running max and sum, rescaled once per block) so no [context]-sized score buffer is needed.
/// </summary>
internal static unsafe class Attention
{
    private const int MaxBlockSize = 256;
    private const int MaxHeadDim = 512;

    public static void Run(ReadOnlySpan<SequenceChunk> chunks, KvCacheStorage kv, int layer, Span<float> q, Span<float> att,
        LlamaConfig c, WorkerPool pool, LlamaModel.RunState s)
    {
        if (kv.BlockSize > MaxBlockSize || c.HeadDim > MaxHeadDim)
            throw new NotSupportedException($"block size {kv.BlockSize} or head dim {c.HeadDim} exceeds the attention kernel's limits");

        // Flatten: per row, its position and where its sequence's block table starts in one shared array.
        int rows = 0, tableInts = 0;
        foreach (var chunk in chunks) { rows += chunk.Count; tableInts += chunk.BlockTable.Length; }
        if (s.RowTable.Length < rows) s.RowTable = new int[Math.Max(rows, s.RowTable.Length * 2)];
        if (s.Tables.Length < tableInts) s.Tables = new int[Math.Max(tableInts, s.Tables.Length * 2)];
        int row = 0, offset = 0;
        foreach (var chunk in chunks)
        {
            chunk.BlockTable.Span.CopyTo(s.Tables.AsSpan(offset));
            for (int i = 0; i < chunk.Count; i++) s.RowTable[row++] = offset;
            offset += chunk.BlockTable.Length;
        }

        fixed (float* qp = q, ap = att)
        fixed (int* posp = s.Positions, rowTable = s.RowTable, tables = s.Tables)
        {
            var body = new Body
            {
                Q = qp, Out = ap, Positions = posp, RowTable = rowTable, Tables = tables,
                Kv = kv, Layer = layer, HeadCount = c.HeadCount, GroupSize = c.HeadCount / c.KvHeadCount,
                HeadDim = c.HeadDim, QDim = c.QDim, KvDim = c.KvDim, Scale = 1f / MathF.Sqrt(c.HeadDim),
            };
            pool.Run(rows * c.HeadCount, ref body);
        }
    }

    private struct Body : IRangeBody
    {
        public float* Q, Out;
        public int* Positions, RowTable, Tables;
        public KvCacheStorage Kv;
        public int Layer, HeadCount, GroupSize, HeadDim, QDim, KvDim;
        public float Scale;

        public void Invoke(int start, int end)
        {
            int hd = HeadDim, bs = Kv.BlockSize;
            Span<float> scores = stackalloc float[MaxBlockSize];
            Span<float> acc = stackalloc float[MaxHeadDim];
            acc = acc[..hd];
            for (int item = start; item < end; item++)
            {
                int row = item / HeadCount, h = item % HeadCount;
                int kvHead = h / GroupSize;
                var qv = new ReadOnlySpan<float>(Q + (long)row * QDim + h * hd, hd);
                int pos = Positions[row];
                int* table = Tables + RowTable[row];
                float runMax = float.NegativeInfinity, runSum = 0f;
                acc.Clear();
                for (int b = 0; b * bs <= pos; b++)
                {
                    int n = Math.Min(bs, pos + 1 - b * bs);
                    float* keys = Kv.KeyBlock(Layer, table[b]) + kvHead * hd;
                    float* values = Kv.ValueBlock(Layer, table[b]) + kvHead * hd;
                    float blockMax = float.NegativeInfinity;
                    for (int t = 0; t < n; t++)
                    {
                        float sc = TensorPrimitives.Dot(qv, new ReadOnlySpan<float>(keys + (long)t * KvDim, hd)) * Scale;
                        scores[t] = sc;
                        if (sc > blockMax) blockMax = sc;
                    }
                    float newMax = Math.Max(runMax, blockMax);
                    if (newMax > runMax && runSum > 0f)
                    {
                        float rescale = MathF.Exp(runMax - newMax);
                        TensorPrimitives.Multiply(acc, rescale, acc);
                        runSum *= rescale;
                    }
                    runMax = newMax;
                    for (int t = 0; t < n; t++)
                    {
                        float p = MathF.Exp(scores[t] - runMax);
                        runSum += p;
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(values + (long)t * KvDim, hd), p, acc, acc);
                    }
                }
                TensorPrimitives.Multiply(acc, 1f / runSum, new Span<float>(Out + (long)row * QDim + h * hd, hd));
            }
        }
    }
}
