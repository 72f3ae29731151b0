using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;
using static Inkwell.Runtime.Kernels.ActivationQuantization;
using static Inkwell.Runtime.Kernels.BlockDots;
using static Inkwell.Runtime.Kernels.FloatDots;
using static Inkwell.Runtime.Kernels.HalfConversion;
using static Inkwell.Runtime.Kernels.ScalarDots;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Matrix multiplication against weights in any supported GGML encoding: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
/// Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
/// <para>
/// As in ggml, each activation row is quantized once per call (to 8-bit blocks of 32 for the 32-element types, to
/// 8-bit super-blocks of 256 with 16-element sums for k-quants) into a scratch buffer owned by the pool, and the
/// work is integer dot products. Output rows are split across the pool; within a range, each weight row is
/// decoded once and dotted against up to four activation rows at a time, so batched prefill (n &gt; 1) streams the
/// weights once rather than n times.
/// </para>
/// <para>
/// Float weights (F32, F16, BF16) are used as they are: one activation row goes to <see cref="FloatGemv"/>
/// (conversion in registers, memory-bound), batches to <see cref="FloatGemm"/> (AVX-512 or AVX2 + FMA).
/// </para>
/// <para>
/// This class is the dispatch and the loop nests over row ranges; the work is in, as in ggml-cpu's layout:
/// <see cref="ActivationQuantization"/> (activations to 8-bit blocks), <see cref="Quant"/> (weight block
/// decoding), <see cref="BlockDots"/> (SIMD dots per block type) with <see cref="ScalarDots"/> (portable
/// fallbacks), <see cref="FloatGemv"/>, <see cref="FloatDots"/> and <see cref="HalfConversion"/> (float
/// weights), <see cref="PackedMatMul"/> over <see cref="PackedWeights"/> (row-interleaved VNNI layouts) and
/// <see cref="FloatGemm"/> (batched floats).
/// </para>
/// </summary>
[SkipLocalsInit] // stack scratch is written before it is read
public static unsafe class MatMul
{
    /// <summary>Activation rows kept hot per pass over a range of weight rows (their int8 copy stays in L2).</summary>
    private const int ActTile = 64;

    /// <summary>Columns of a float weight row handled at a time (F16/BF16 widened to f32 per chunk, in L1).</summary>
    private const int FloatChunk = 512;

    /// <summary>Activation rows (FloatTileN) and weight rows (FloatTileR) of a float GEMM block.</summary>
    private const int FloatTileN = 16, FloatTileR = 64;

    /// <summary>True where the SIMD kernels run (x86 AVX2 + FMA); elsewhere the scalar kernels do.</summary>
    public static bool IsAccelerated => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>The types <see cref="Multiply"/> and <see cref="DequantizeRow"/> accept.</summary>
    public static bool Supports(GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0
        || Quant.IsBlock32(t) || Quant.IsK(t);

    /// <summary>
    /// Makes w's kernel-specific data now (the packed layout, or the int16 panels' row maxima, where w takes that path)
    /// rather than on its first Multiply: at load, so no request pays for it, and a mixture of experts' rarely chosen
    /// experts do not pack in the middle of decoding.
    /// </summary>
    public static void Prepare(WeightMatrix w)
    {
        if (PackedMatMul.Applies(w)) _ = PackedMatMul.Packed(w);
        FloatGemm.PrepareInt16(w);
    }

    /// <summary>y[n, w.Rows] = x[n, w.Cols] · wᵀ. x and y are row-major and contiguous.</summary>
    public static void Multiply(WeightMatrix w, ReadOnlySpan<float> x, Span<float> y, int n, WorkerPool pool)
        => Multiply(w, x, y, n, pool, forceScalar: false);

    /// <summary>As the public overload; forceScalar runs the portable kernels (tests compare both paths).</summary>
    internal static void Multiply(WeightMatrix w, ReadOnlySpan<float> x, Span<float> y, int n, WorkerPool pool,
        bool forceScalar)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(pool);
        if (!Supports(w.Type)) throw new NotSupportedException($"{w.Type} matmul is not supported");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n));
        if (x.Length < (long)n * w.Cols) throw new ArgumentException($"x holds {x.Length} values, need {n}×{w.Cols}", nameof(x));
        if (y.Length < (long)n * w.Rows) throw new ArgumentException($"y holds {y.Length} values, need {n}×{w.Rows}", nameof(y));
        if (n == 0 || w.Rows == 0) return;

        bool simd = !forceScalar && IsAccelerated;
        int cols = w.Cols;
        fixed (float* px = x)
        fixed (float* py = y)
        {
            if (simd && FloatGemm.Handles(w.Type, n))
            {
                // Batched float weights: the packed-panel GEMM (no per-tile reductions, weights widened once).
                FloatGemm.Multiply(w, px, py, n, pool);
                return;
            }
            if (simd && n == 1 && w.Type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
            {
                // Decode against float weights: memory-bound, converted in registers (see FloatGemv).
                FloatGemv.Multiply(w, px, py, pool);
                return;
            }
            // Q4_0/Q5_0/Q8_0/Q4_K/Q5_K/Q6_K: the row-interleaved packed copy (see PackedMatMul).
            if (simd && PackedMatMul.TryMultiply(w, px, py, n, pool)) return;
            var body = new Body
            {
                Type = w.Type, W = w.Data, RowBytes = w.RowBytes, Rows = w.Rows, Cols = cols, N = n,
                X = px, Y = py, Simd = simd,
            };
            if (pool.IsCurrentThreadInside)
            {
                // Called from inside a body of this pool (e.g. work split per head): run on this thread alone with
                // its own scratch; the pool's lock is held by a thread that is waiting for us.
                Prepare(ref body, ref t_scratch, ref t_scratchBytes);
                if (body.Q != null) new QuantizeBody { Body = body, K = Quant.IsK(w.Type) }.Invoke(0, n);
                body.Invoke(0, w.Rows);
                return;
            }
            lock (pool.ScratchLock)
            {
                byte* scratch = pool.Scratch(ScratchBytes(w.Type, cols, n));
                Prepare(ref body, ref scratch, ref Unsafe.NullRef<nuint>());
                if (body.Q != null)
                {
                    // Quantize the activations once for all weight rows.
                    var qb = new QuantizeBody { Body = body, K = Quant.IsK(w.Type) };
                    RunRows(pool, n, ref qb);
                }
                pool.Run(w.Rows, ref body, 4);
            }
        }
    }

    [ThreadStatic] private static byte* t_scratch;
    [ThreadStatic] private static nuint t_scratchBytes;

    private static nuint ScratchBytes(GgmlType t, int cols, int n)
    {
        if (t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return 0;
        bool k = Quant.IsK(t);
        int groups = k ? cols / 256 : cols / 32;
        int n4 = (n + 3) & ~3;
        return Align64((nuint)n * (nuint)cols) + 2 * Align64((nuint)n4 * (nuint)groups * 4)
            + (k ? Align64((nuint)n * (nuint)(cols / 16) * 2) : 0);
    }

    /// <summary>
    /// Points the body at its activation buffers inside scratch. When <paramref name="capacity"/> is a real
    /// reference the scratch is a grow-only per-thread buffer, grown here; otherwise it is already big enough.
    /// </summary>
    private static void Prepare(ref Body body, ref byte* scratch, ref nuint capacity)
    {
        if (body.Type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return;
        int cols = body.Cols, n = body.N;
        nuint need = ScratchBytes(body.Type, cols, n);
        if (!Unsafe.IsNullRef(ref capacity) && need > capacity)
        {
            if (scratch != null) System.Runtime.InteropServices.NativeMemory.AlignedFree(scratch);
            capacity = Math.Max(need, capacity * 2);
            scratch = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(capacity, 64);
        }
        bool k = Quant.IsK(body.Type);
        int groups = k ? cols / 256 : cols / 32;
        nuint qBytes = Align64((nuint)n * (nuint)cols);
        nuint dBytes = Align64((nuint)((n + 3) & ~3) * (nuint)groups * 4);
        body.Q = (sbyte*)scratch;
        body.D = (float*)(scratch + qBytes);
        body.S = scratch + qBytes + dBytes;
        body.Groups = groups;
    }

    /// <summary>Decodes one row of w into dst (length w.Cols), e.g. for an embedding lookup.</summary>
    public static void DequantizeRow(WeightMatrix w, int row, Span<float> dst)
    {
        ArgumentNullException.ThrowIfNull(w);
        if ((uint)row >= (uint)w.Rows) throw new ArgumentOutOfRangeException(nameof(row));
        if (w.PagesReleased && w.Owner is IReleasableMapping mapping)
        {
            // The packed copy serves the multiplies and the original's pages were handed back; a lookup (a tied
            // embedding's row) reads from the file instead of mapping a page again: the kernel maps a whole large
            // page-cache folio on such a fault, up to 2 MiB per looked-up row (Gemma 3 1B q8_0: 241 MB of its
            // 262k-row embedding resident after a few hundred tokens).
            int bytes = checked((int)w.RowBytes);
            byte[]? rented = bytes > MaxStackRowBytes ? System.Buffers.ArrayPool<byte>.Shared.Rent(bytes) : null;
            Span<byte> buffer = rented is null ? stackalloc byte[bytes] : rented.AsSpan(0, bytes);
            mapping.ReadWithoutMapping(w.Row(row), buffer);
            fixed (byte* p = buffer) Quant.DequantizeRow(w.Type, p, w.Cols, dst);
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            return;
        }
        Quant.DequantizeRow(w.Type, w.Row(row), w.Cols, dst);
    }

    private const int MaxStackRowBytes = 16 << 10;

    private static nuint Align64(nuint v) => (v + 63) & ~(nuint)63;

    // ================================================================ activation quantization (see ActivationQuantization)

    private struct QuantizeBody : IRangeBody
    {
        public Body Body;
        public bool K;

        public void Invoke(int start, int end)
        {
            int cols = Body.Cols, g = Body.Groups;
            for (int i = start; i < end; i++)
            {
                float* x = Body.X + (long)i * cols;
                sbyte* q = Body.Q + (long)i * cols;
                if (K) QuantizeQ8K(x, cols, q, Body.D + (long)i * g, (short*)Body.S + (long)i * (cols / 16), Body.Simd);
                else QuantizeQ8(x, cols, q, Body.D + Inter(i, g), (float*)Body.S + Inter(i, g), Body.Simd);
            }
        }
    }

    // ================================================================ the per-range body

    private struct Body : IRangeBody
    {
        public GgmlType Type;
        public byte* W;
        public long RowBytes;
        public int Rows, Cols, N, Groups;
        public float* X, Y;
        public sbyte* Q;  // quantized activations [N, Cols]
        public float* D;  // their scales [N, Groups]
        public byte* S;   // f32 d·Σq [N, Groups] (32-blocks) or i16 sums of 16 [N, Cols/16] (k-quants)
        public bool Simd;

        public void Invoke(int start, int end)
        {
            switch (Type)
            {
                case GgmlType.F32:
                case GgmlType.F16:
                case GgmlType.BF16: RunFloat(start, end); break;
                case GgmlType.Q8_0: RunQ8_0(start, end); break;
                case GgmlType.Q4_0: RunBlock32<Quant.Q4_0>(start, end); break;
                case GgmlType.Q4_1: RunBlock32<Quant.Q4_1>(start, end); break;
                case GgmlType.Q5_0: RunBlock32<Quant.Q5_0>(start, end); break;
                case GgmlType.Q5_1: RunBlock32<Quant.Q5_1>(start, end); break;
                case GgmlType.Q2_K: RunK<Quant.Q2_K>(start, end); break;
                case GgmlType.Q3_K: RunK<Quant.Q3_K>(start, end); break;
                case GgmlType.Q4_K: RunK<Quant.Q4_K>(start, end); break;
                case GgmlType.Q5_K: RunK<Quant.Q5_K>(start, end); break;
                default: RunK<Quant.Q6_K>(start, end); break;
            }
        }

        // ---------------------------------------------------------------- 32-element blocks

        private readonly void RunBlock32<TW>(int start, int end) where TW : struct, Quant.IBlock32
        {
            float* res = stackalloc float[4];
            int nb = Groups, cols = Cols;
            for (int i0 = 0; i0 < N; i0 += ActTile)
            {
                int i1 = Math.Min(N, i0 + ActTile);
                for (int r = start; r < end; r++)
                {
                    byte* w = W + r * RowBytes;
                    for (int i = i0; i < i1;)
                    {
                        sbyte* q = Q + (long)i * cols;
                        float* d = D + Inter(i, nb), s = (float*)S + Inter(i, nb);
                        int c = Math.Min(4, i1 - i);
                        if (!Simd) { c = 1; res[0] = Dot32Scalar(Type, w, nb, q, d, s); }
                        else if (c == 4) Dot32x4<TW>(w, nb, q, cols, d, s, res);
                        else if (c == 3) Dot32<TW, N3>(w, nb, q, d, s, cols, res);
                        else if (c == 2) Dot32<TW, N2>(w, nb, q, d, s, cols, res);
                        else res[0] = Dot32x1<TW>(w, nb, q, d, s);
                        for (int k = 0; k < c; k++) Y[(long)(i + k) * Rows + r] = res[k];
                        i += c;
                    }
                }
            }
        }

        private readonly void RunQ8_0(int start, int end)
        {
            float* res = stackalloc float[4];
            int nb = Groups, cols = Cols;
            for (int i0 = 0; i0 < N; i0 += ActTile)
            {
                int i1 = Math.Min(N, i0 + ActTile);
                for (int r = start; r < end; r++)
                {
                    byte* w = W + r * RowBytes;
                    for (int i = i0; i < i1;)
                    {
                        sbyte* q = Q + (long)i * cols;
                        float* d = D + Inter(i, nb);
                        int c = Math.Min(4, i1 - i);
                        if (!Simd) { c = 1; res[0] = DotQ8_0Scalar(w, nb, q, d); }
                        else if (c == 4) DotQ8_0x4(w, nb, q, cols, d, res);
                        else if (c == 3) DotQ8_0<N3>(w, nb, q, d, cols, res);
                        else if (c == 2) DotQ8_0<N2>(w, nb, q, d, cols, res);
                        else res[0] = DotQ8_0x1(w, nb, q, d);
                        for (int k = 0; k < c; k++) Y[(long)(i + k) * Rows + r] = res[k];
                        i += c;
                    }
                }
            }
        }

        // ---------------------------------------------------------------- k-quants

        private readonly void RunK<TK>(int start, int end) where TK : struct, Quant.IKBlock
        {
            int nsb = Groups, cols = Cols, bstride = cols / 16;
            // Q2_K's staged decode is already cheap (shifts of one load), and measured a little faster staged.
            if (Simd && N == 1 && typeof(TK) != typeof(Quant.Q2_K))
            {
                // Decode (n = 1): one pass over each weight row, decoding in registers; staging a decoded row in
                // memory only pays off when several activation rows reuse it.
                for (int r = start; r < end; r++)
                    Y[r] = typeof(TK) == typeof(Quant.Q4_K) ? DotQ4_K(W + r * RowBytes, nsb, Q, D, (short*)S)
                        : typeof(TK) == typeof(Quant.Q6_K) ? DotQ6_K(W + r * RowBytes, nsb, Q, D, (short*)S)
                        : DotKDirect<TK>(W + r * RowBytes, nsb, Q, D, (short*)S);
                return;
            }
            // One decoded weight row (≈ 2.1 bytes per weight) lives on this thread's stack while it is dotted
            // against the activation tile; rows longer than 32K columns take a heap buffer.
            nuint need = (nuint)nsb * (Quant.KUnpackedBytes + 8) + 32;
            byte* heap = null;
            byte* raw;
            if (need <= 80_000) { byte* st = stackalloc byte[(int)need]; raw = st; }
            else raw = heap = HeapAlloc(need);
            try
            {
                byte* unp = (byte*)(((nuint)raw + 31) & ~(nuint)31);
                float* ds = (float*)(unp + (nuint)nsb * Quant.KUnpackedBytes);
                float* dms = ds + nsb;
                float* res = stackalloc float[4];
                for (int i0 = 0; i0 < N; i0 += ActTile)
                {
                    int i1 = Math.Min(N, i0 + ActTile);
                    for (int r = start; r < end; r++)
                    {
                        byte* w = W + r * RowBytes;
                        for (int b = 0; b < nsb; b++)
                            TK.Unpack(w + (long)b * TK.Bytes, unp + b * Quant.KUnpackedBytes, Simd, out ds[b], out dms[b]);
                        for (int i = i0; i < i1;)
                        {
                            sbyte* q = Q + (long)i * cols;
                            float* d = D + (long)i * nsb;
                            short* bs = (short*)S + (long)i * bstride;
                            int c = Math.Min(4, i1 - i);
                            if (!Simd) { c = 1; res[0] = DotKScalar(unp, ds, dms, nsb, q, d, bs); }
                            else if (c == 4) DotK<N4>(unp, ds, dms, nsb, q, d, bs, cols, nsb, bstride, res);
                            else if (c == 3) DotK<N3>(unp, ds, dms, nsb, q, d, bs, cols, nsb, bstride, res);
                            else if (c == 2) DotK<N2>(unp, ds, dms, nsb, q, d, bs, cols, nsb, bstride, res);
                            else DotK<N1>(unp, ds, dms, nsb, q, d, bs, cols, nsb, bstride, res);
                            for (int k = 0; k < c; k++) Y[(long)(i + k) * Rows + r] = res[k];
                            i += c;
                        }
                    }
                }
            }
            finally
            {
                if (heap != null) HeapFree(heap);
            }
        }

        // ---------------------------------------------------------------- float weights

        private readonly void RunFloat(int start, int end)
        {
            int cols = Cols;
            // Four weight rows at a time where AVX-512 gives the 16 accumulators of a 4×4 tile registers to spare:
            // each activation load then feeds four FMAs. Blocking: a tile of FloatTileN activation rows × FloatChunk
            // columns (32 KiB) stays in L1 while every weight row of a FloatTileR-row block passes over it, with
            // partial sums in acc; so activations are not streamed from L2 once per weight row.
            bool tile4 = Simd && Vector512.IsHardwareAccelerated;
            float* tmp = stackalloc float[4 * FloatChunk];
            float* acc = stackalloc float[FloatTileR * FloatTileN]; // [activation row][weight row]: output order
            for (int rs = start; rs < end; rs += FloatTileR)
            {
                int re = Math.Min(end, rs + FloatTileR);
                for (int i0 = 0; i0 < N; i0 += FloatTileN)
                {
                    int i1 = Math.Min(N, i0 + FloatTileN);
                    new Span<float>(acc, FloatTileR * FloatTileN).Clear();
                    for (int c0 = 0; c0 < cols; c0 += FloatChunk)
                    {
                        int len = Math.Min(FloatChunk, cols - c0);
                        for (int r = rs; r < re;)
                        {
                            int rr = tile4 && re - r >= 4 ? 4 : 1;
                            float* w;
                            int wStride;
                            if (Type == GgmlType.F32) { w = (float*)(W + r * RowBytes) + c0; wStride = cols; }
                            else
                            {
                                w = tmp;
                                wStride = FloatChunk;
                                for (int k = 0; k < rr; k++)
                                {
                                    ushort* src = (ushort*)(W + (r + k) * RowBytes) + c0;
                                    if (Type == GgmlType.F16) WidenF16(src, tmp + k * FloatChunk, len, Simd);
                                    else WidenBF16(src, tmp + k * FloatChunk, len, Simd);
                                }
                            }
                            float* ar = acc + (r - rs);
                            for (int i = i0; i < i1;)
                            {
                                float* xi = X + (long)i * cols + c0;
                                float* ai = ar + (i - i0) * FloatTileR;
                                int c = Math.Min(4, i1 - i);
                                if (!Simd) { c = 1; ai[0] += DotF32Scalar(w, xi, len); }
                                else if (rr == 4)
                                {
                                    if (c == 4) DotF32x4<N4>(w, wStride, len, xi, cols, ai, FloatTileR);
                                    else if (c == 3) DotF32x4<N3>(w, wStride, len, xi, cols, ai, FloatTileR);
                                    else if (c == 2) DotF32x4<N2>(w, wStride, len, xi, cols, ai, FloatTileR);
                                    else DotF32x4<N1>(w, wStride, len, xi, cols, ai, FloatTileR);
                                }
                                else if (c == 4) DotF32<N4>(w, len, xi, cols, ai, FloatTileR);
                                else if (c == 3) DotF32<N3>(w, len, xi, cols, ai, FloatTileR);
                                else if (c == 2) DotF32<N2>(w, len, xi, cols, ai, FloatTileR);
                                else DotF32<N1>(w, len, xi, cols, ai, FloatTileR);
                                i += c;
                            }
                            r += rr;
                        }
                    }
                    for (int i = i0; i < i1; i++)
                        new ReadOnlySpan<float>(acc + (i - i0) * FloatTileR, re - rs).CopyTo(new Span<float>(Y + (long)i * Rows + rs, re - rs));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps the P/Invoke frame out of the kernel loop
    private static byte* HeapAlloc(nuint bytes) => (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(bytes);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void HeapFree(byte* p) => System.Runtime.InteropServices.NativeMemory.Free(p);
}
