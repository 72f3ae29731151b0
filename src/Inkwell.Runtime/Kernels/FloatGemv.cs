using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// y[r] = w_r · x for one activation row (decode) against F32/F16/BF16 weights, the memory-bound case: every weight
/// is read once, converted to f32 in registers and consumed by an FMA at once (no widened copy stored and
/// reloaded). One row at a time, as ggml's vec_dot_f16: the activation row stays in L1 and each weight row is one
/// sequential stream; passing over four rows together, to share activation loads, streamed f16 from memory at half
/// the speed (16 vs 28 GB/s on one Zen 5 core). Rows longer than <see cref="MaxBlockColumns"/> are walked in column
/// blocks, all rows of a range per block, so the block's activations (at most 16 KiB) stay in L1: a whole 5632- to
/// 14336-column activation row (22-56 KiB) is pushed out by the weight stream passing through L1, and the down
/// projections of the 1B-8B shapes streamed at 20-35 GB/s where their gate projections read 40-50 (2 threads, Zen 5).
/// Each step prefetches, non-temporally, the same columns of the next row, the stream the hardware prefetcher loses
/// at every block edge: with both, those down projections read 30-48 GB/s and the gates gained 5-25%. Blocks are no
/// narrower than needed: 3072-column rows split in two read at 28 GB/s where whole (with the prefetch) they read 35-39.
/// Finite f16 matrices (checked once per matrix) take the three-operation conversion of
/// <see cref="FromFiniteF16"/>. Batches go to <see cref="MatMul"/>'s per-row kernels or <see cref="FloatGemm"/>.
/// </summary>
internal static unsafe class FloatGemv
{
    /// <summary>512-bit kernels where AVX-512 is available and preferred; otherwise AVX2 (which callers require).</summary>
    private static bool Wide => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>The widest column block: 16 KiB of f32 activations, inside a 32-48 KiB L1 beside the weight stream.</summary>
    internal const int MaxBlockColumns = 4096;

    /// <summary>Columns per block: cols split into equal blocks of at most <see cref="MaxBlockColumns"/>, whole 64-column steps.</summary>
    internal static int BlockColumns(int cols) => EvenSplit.Piece(cols, MaxBlockColumns, 64);

    /// <summary>y[0, w.Rows] = x[0, w.Cols] · wᵀ for a float matrix, split across the pool.</summary>
    public static void Multiply(WeightMatrix w, float* x, float* y, WorkerPool pool)
    {
        bool finiteF16 = HalfConversion.IsFiniteF16(w, pool);
        var body = new Body
        {
            Type = w.Type, FiniteF16 = finiteF16,
            W = w.Data, RowBytes = w.RowBytes, Cols = w.Cols, X = x, Y = y,
        };
        if (!finiteF16)
        {
            body.XVectors = x;
            pool.Run(w.Rows, ref body);
            return;
        }
        // The scaled loads' activations, scaled once per call rather than once per row.
        if (t_scaledActivations is not { } scaled || scaled.Length < w.Cols)
            t_scaledActivations = scaled = GC.AllocateUninitializedArray<float>(w.Cols, pinned: true);
        fixed (float* xs = scaled)
        {
            var activations = new ReadOnlySpan<float>(x, w.Cols);
            System.Numerics.Tensors.TensorPrimitives.Multiply(activations, FromFiniteF16.ActivationScale, scaled.AsSpan(0, w.Cols));
            body.XVectors = xs;
            pool.Run(w.Rows, ref body);
        }
    }

    /// <summary>The caller thread's activations times <see cref="FromFiniteF16.ActivationScale"/> (grown, never shrunk).</summary>
    [ThreadStatic] private static float[]? t_scaledActivations;

    private struct Body : IRangeBody
    {
        public GgmlType Type;
        public bool FiniteF16;
        public byte* W;
        public long RowBytes;
        public int Cols;
        public float* X, Y;
        /// <summary>What the vector steps read: X, or X scaled for <see cref="FromFiniteF16"/>.</summary>
        public float* XVectors;

        public readonly void Invoke(int start, int end)
        {
            if (FiniteF16) Run<FromFiniteF16>(start, end);
            else if (Type == GgmlType.F16) Run<FromF16>(start, end);
            else if (Type == GgmlType.BF16) Run<FromBF16>(start, end);
            else Run<FromF32>(start, end);
        }

        private readonly void Run<TW>(int start, int end) where TW : struct, IFloatLoad
        {
            int blockCols = BlockColumns(Cols);
            for (int c0 = 0; c0 < Cols; c0 += blockCols)
            {
                int len = Math.Min(blockCols, Cols - c0);
                byte* w = W + (long)c0 * TW.ElementBytes;
                float* x = X + c0, xv = XVectors + c0;
                for (int r = start; r < end; r++)
                {
                    byte* row = w + r * RowBytes;
                    float dot = Wide ? Dot512<TW>(row, len, x, xv, RowBytes) : Dot256<TW>(row, len, x, xv, RowBytes);
                    Y[r] = c0 == 0 ? dot : Y[r] + dot;
                }
            }
        }
    }

    /// <summary>
    /// w · x for one row (or one column block of it): four 16-column steps per iteration, each with its own
    /// accumulator to hide the FMA latency; the conversions are integer ops on other ports. Each iteration prefetches
    /// the weight bytes it reads, shifted by <paramref name="ahead"/> bytes (the next row's block).
    /// </summary>
    internal static float Dot512<TW>(byte* w, int cols, float* x, float* xv, long ahead) where TW : struct, IFloatLoad
    {
        var z = Vector512<float>.Zero;
        Vector512<float> a0 = z, a1 = z, a2 = z, a3 = z;
        int j = 0;
        for (; j + 64 <= cols; j += 64)
        {
            Prefetch<TW>(w + (long)j * TW.ElementBytes + ahead, 64);
            var x0 = Vector512.Load(xv + j);
            var x1 = Vector512.Load(xv + j + 16);
            var x2 = Vector512.Load(xv + j + 32);
            var x3 = Vector512.Load(xv + j + 48);
            a0 = Vector512.FusedMultiplyAdd(TW.Load16(w, j), x0, a0);
            a1 = Vector512.FusedMultiplyAdd(TW.Load16(w, j + 16), x1, a1);
            a2 = Vector512.FusedMultiplyAdd(TW.Load16(w, j + 32), x2, a2);
            a3 = Vector512.FusedMultiplyAdd(TW.Load16(w, j + 48), x3, a3);
        }
        for (; j + 16 <= cols; j += 16)
        {
            var x0 = Vector512.Load(xv + j);
            a0 = Vector512.FusedMultiplyAdd(TW.Load16(w, j), x0, a0);
        }
        return Finish<TW>(Vector512.Sum((a0 + a1) + (a2 + a3)), w, j, cols, x);
    }

    /// <summary>As <see cref="Dot512{TW}"/> with 256-bit vectors (AVX2-only machines): four 8-column steps per iteration.</summary>
    internal static float Dot256<TW>(byte* w, int cols, float* x, float* xv, long ahead) where TW : struct, IFloatLoad
    {
        var z = Vector256<float>.Zero;
        Vector256<float> a0 = z, a1 = z, a2 = z, a3 = z;
        int j = 0;
        for (; j + 32 <= cols; j += 32)
        {
            Prefetch<TW>(w + (long)j * TW.ElementBytes + ahead, 32);
            var x0 = Vector256.Load(xv + j);
            var x1 = Vector256.Load(xv + j + 8);
            var x2 = Vector256.Load(xv + j + 16);
            var x3 = Vector256.Load(xv + j + 24);
            a0 = Fma.MultiplyAdd(TW.Load8(w, j), x0, a0);
            a1 = Fma.MultiplyAdd(TW.Load8(w, j + 8), x1, a1);
            a2 = Fma.MultiplyAdd(TW.Load8(w, j + 16), x2, a2);
            a3 = Fma.MultiplyAdd(TW.Load8(w, j + 24), x3, a3);
        }
        for (; j + 8 <= cols; j += 8)
        {
            var x0 = Vector256.Load(xv + j);
            a0 = Fma.MultiplyAdd(TW.Load8(w, j), x0, a0);
        }
        return Finish<TW>(Vector256.Sum((a0 + a1) + (a2 + a3)), w, j, cols, x);
    }

    /// <summary>
    /// Non-temporal prefetch of the cache lines of <paramref name="columns"/> weights at p: into L1 without displacing
    /// the activations there. Prefetches never fault, so reaching past a matrix's end is harmless.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch<TW>(byte* p, int columns) where TW : struct, IFloatLoad
    {
        for (int b = 0; b < columns * TW.ElementBytes; b += 64) Sse.PrefetchNonTemporal(p + b);
    }

    /// <summary>Undoes the load scaling and adds the columns past the last vector, exact, one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<TW>(float sum, byte* w, int j, int cols, float* x) where TW : struct, IFloatLoad
    {
        if (TW.Scaled) sum *= FromFiniteF16.SumScale;
        for (; j < cols; j++) sum += TW.Load1(w, j) * x[j];
        return sum;
    }
}
