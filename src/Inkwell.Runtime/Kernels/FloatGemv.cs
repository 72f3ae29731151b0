using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// y[r] = w_r · x for one activation row (decode) against F32/F16/BF16 weights, the memory-bound case: every weight
/// is read once, converted to f32 in registers and consumed by an FMA at once (no widened copy stored and
/// reloaded), and four weight rows share each activation load. Finite f16 matrices (checked once per matrix) take
/// the three-operation conversion of <see cref="FromFiniteF16"/>. Batches go to <see cref="MatMul"/>'s per-row
/// kernels or <see cref="FloatGemm"/>.
/// </summary>
internal static unsafe class FloatGemv
{
    /// <summary>Weight rows per pass over the activation row.</summary>
    private const int Rows = 4;

    /// <summary>512-bit kernels where AVX-512 is available and preferred; otherwise AVX2 (which callers require).</summary>
    private static bool Wide => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>y[0, w.Rows] = x[0, w.Cols] · wᵀ for a float matrix, split across the pool.</summary>
    public static void Multiply(WeightMatrix w, float* x, float* y, WorkerPool pool)
    {
        var body = new Body
        {
            Type = w.Type,
            FiniteF16 = w.Type == GgmlType.F16 && IsFinite(w, pool),
            W = w.Data, RowBytes = w.RowBytes, Cols = w.Cols, X = x, Y = y,
        };
        pool.Run(w.Rows, ref body, Rows);
    }

    /// <summary>
    /// Whether an F16 matrix holds no inf/NaN, found by one parallel scan on first use and kept on the matrix:
    /// the scan is one extra read of the weights, once, where checking in the kernel would cost on every token.
    /// </summary>
    private static bool IsFinite(WeightMatrix w, WorkerPool pool)
    {
        int state = Volatile.Read(ref w.HalfFiniteness);
        if (state == 0)
        {
            var scan = new NonFiniteScan { W = w.Data, RowBytes = w.RowBytes, Cols = w.Cols };
            pool.Run(w.Rows, ref scan);
            state = scan.Found ? WeightMatrix.HasNonFinite : WeightMatrix.AllFinite;
            Volatile.Write(ref w.HalfFiniteness, state); // racing first calls compute the same answer
        }
        return state == WeightMatrix.AllFinite;
    }

    private struct NonFiniteScan : IRangeBody
    {
        public byte* W;
        public long RowBytes;
        public int Cols;
        public bool Found; // only ever set, so concurrent ranges may write it

        public void Invoke(int start, int end)
        {
            if (HalfConversion.HasNonFiniteF16((ushort*)(W + start * RowBytes), (long)(end - start) * Cols)) Found = true;
        }
    }

    private struct Body : IRangeBody
    {
        public GgmlType Type;
        public bool FiniteF16;
        public byte* W;
        public long RowBytes;
        public int Cols;
        public float* X, Y;

        public readonly void Invoke(int start, int end)
        {
            if (FiniteF16) Run<FromFiniteF16>(start, end);
            else if (Type == GgmlType.F16) Run<FromF16>(start, end);
            else if (Type == GgmlType.BF16) Run<FromBF16>(start, end);
            else Run<FromF32>(start, end);
        }

        private readonly void Run<TW>(int start, int end) where TW : struct, IFloatLoad
        {
            int r = start;
            for (; r + Rows <= end; r += Rows) RowsDot<TW, N4>(r);
            switch (end - r)
            {
                case 3: RowsDot<TW, N3>(r); break;
                case 2: RowsDot<TW, N2>(r); break;
                case 1: RowsDot<TW, N1>(r); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void RowsDot<TW, TR>(int r) where TW : struct, IFloatLoad where TR : struct, ICount
        {
            if (Wide) Dot512<TW, TR>(W + r * RowBytes, RowBytes, Cols, X, Y + r);
            else Dot256<TW, TR>(W + r * RowBytes, RowBytes, Cols, X, Y + r);
        }
    }

    /// <summary>
    /// y[k] = w_k · x for TR (≤ 4) rows w_k = w + k·rowBytes: two 16-column steps per iteration, each with its own
    /// accumulators, so eight FMA chains hide the FMA latency; the conversions are integer ops on other ports.
    /// </summary>
    internal static void Dot512<TW, TR>(byte* w, long rowBytes, int cols, float* x, float* y)
        where TW : struct, IFloatLoad where TR : struct, ICount
    {
        int nr = TR.N;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        var z = Vector512<float>.Zero;
        Vector512<float> a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        var xScale = Vector512.Create(FromFiniteF16.ActivationScale);
        int j = 0;
        for (; j + 32 <= cols; j += 32)
        {
            var x0 = Vector512.Load(x + j);
            var x1 = Vector512.Load(x + j + 16);
            if (TW.Scaled) { x0 *= xScale; x1 *= xScale; }
            a0 = Vector512.FusedMultiplyAdd(TW.Load16(w, j), x0, a0);
            b0 = Vector512.FusedMultiplyAdd(TW.Load16(w, j + 16), x1, b0);
            if (nr > 1)
            {
                a1 = Vector512.FusedMultiplyAdd(TW.Load16(w1, j), x0, a1);
                b1 = Vector512.FusedMultiplyAdd(TW.Load16(w1, j + 16), x1, b1);
            }
            if (nr > 2)
            {
                a2 = Vector512.FusedMultiplyAdd(TW.Load16(w2, j), x0, a2);
                b2 = Vector512.FusedMultiplyAdd(TW.Load16(w2, j + 16), x1, b2);
            }
            if (nr > 3)
            {
                a3 = Vector512.FusedMultiplyAdd(TW.Load16(w3, j), x0, a3);
                b3 = Vector512.FusedMultiplyAdd(TW.Load16(w3, j + 16), x1, b3);
            }
        }
        if (j + 16 <= cols)
        {
            var x0 = Vector512.Load(x + j);
            if (TW.Scaled) x0 *= xScale;
            a0 = Vector512.FusedMultiplyAdd(TW.Load16(w, j), x0, a0);
            if (nr > 1) a1 = Vector512.FusedMultiplyAdd(TW.Load16(w1, j), x0, a1);
            if (nr > 2) a2 = Vector512.FusedMultiplyAdd(TW.Load16(w2, j), x0, a2);
            if (nr > 3) a3 = Vector512.FusedMultiplyAdd(TW.Load16(w3, j), x0, a3);
            j += 16;
        }
        var sums = FloatDots.Reduce4(a0 + b0, a1 + b1, a2 + b2, a3 + b3);
        Store<TW, TR>(sums, w, rowBytes, j, cols, x, y);
    }

    /// <summary>As <see cref="Dot512{TW, TR}"/> with 256-bit vectors (AVX2-only machines): two 8-column steps per iteration.</summary>
    internal static void Dot256<TW, TR>(byte* w, long rowBytes, int cols, float* x, float* y)
        where TW : struct, IFloatLoad where TR : struct, ICount
    {
        int nr = TR.N;
        byte* w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        var z = Vector256<float>.Zero;
        Vector256<float> a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        var xScale = Vector256.Create(FromFiniteF16.ActivationScale);
        int j = 0;
        for (; j + 16 <= cols; j += 16)
        {
            var x0 = Vector256.Load(x + j);
            var x1 = Vector256.Load(x + j + 8);
            if (TW.Scaled) { x0 *= xScale; x1 *= xScale; }
            a0 = Fma.MultiplyAdd(TW.Load8(w, j), x0, a0);
            b0 = Fma.MultiplyAdd(TW.Load8(w, j + 8), x1, b0);
            if (nr > 1)
            {
                a1 = Fma.MultiplyAdd(TW.Load8(w1, j), x0, a1);
                b1 = Fma.MultiplyAdd(TW.Load8(w1, j + 8), x1, b1);
            }
            if (nr > 2)
            {
                a2 = Fma.MultiplyAdd(TW.Load8(w2, j), x0, a2);
                b2 = Fma.MultiplyAdd(TW.Load8(w2, j + 8), x1, b2);
            }
            if (nr > 3)
            {
                a3 = Fma.MultiplyAdd(TW.Load8(w3, j), x0, a3);
                b3 = Fma.MultiplyAdd(TW.Load8(w3, j + 8), x1, b3);
            }
        }
        if (j + 8 <= cols)
        {
            var x0 = Vector256.Load(x + j);
            if (TW.Scaled) x0 *= xScale;
            a0 = Fma.MultiplyAdd(TW.Load8(w, j), x0, a0);
            if (nr > 1) a1 = Fma.MultiplyAdd(TW.Load8(w1, j), x0, a1);
            if (nr > 2) a2 = Fma.MultiplyAdd(TW.Load8(w2, j), x0, a2);
            if (nr > 3) a3 = Fma.MultiplyAdd(TW.Load8(w3, j), x0, a3);
            j += 8;
        }
        var sums = Vector128.Create(Vector256.Sum(a0 + b0), Vector256.Sum(a1 + b1), Vector256.Sum(a2 + b2), Vector256.Sum(a3 + b3));
        Store<TW, TR>(sums, w, rowBytes, j, cols, x, y);
    }

    /// <summary>Undoes the load scaling, adds the columns past the last vector (exact, one at a time) and stores TR sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TW, TR>(Vector128<float> sums, byte* w, long rowBytes, int j, int cols, float* x, float* y)
        where TW : struct, IFloatLoad where TR : struct, ICount
    {
        if (TW.Scaled) sums *= Vector128.Create(FromFiniteF16.SumScale);
        for (int k = 0; k < TR.N; k++)
        {
            float s = sums.GetElement(k);
            byte* row = w + k * rowBytes;
            for (int c = j; c < cols; c++) s += TW.Load1(row, c) * x[c];
            y[k] = s;
        }
    }
}
