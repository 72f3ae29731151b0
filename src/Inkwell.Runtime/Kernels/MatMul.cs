using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

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
/// Float weights (F32, F16, BF16) are used as they are; batches of them go to <see cref="FloatGemm"/> where
/// AVX-512 is available.
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
            // Q4_0/Q8_0/Q4_K/Q6_K with VNNI: the row-interleaved packed copy (see PackedMatMul).
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
                    if (n >= 2 * pool.ThreadCount && pool.ThreadCount > 1) pool.Run(n, ref qb);
                    else qb.Invoke(0, n);
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
        Quant.DequantizeRow(w.Type, w.Row(row), w.Cols, dst);
    }

    private static nuint Align64(nuint v) => (v + 63) & ~(nuint)63;

    /// <summary>
    /// Where row i's first block scale lives for 32-element types: scales are interleaved by groups of four rows,
    /// [i / 4][block][i % 4], so the 4-row kernel loads the four rows' scales of a block as one vector.
    /// </summary>
    private static long Inter(int i, int groups) => (long)(i >> 2) * groups * 4 + (i & 3);

    // ================================================================ activation quantization

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

    /// <summary>
    /// Blocks of 32: d = max|x| / 127, q = round(x / d); also s = d·Σq, the term an offset or min in the weight
    /// block multiplies (ggml's Q8_1 carries the same sum). Scales stay f32 (ggml rounds them to f16); block b's
    /// d and s are written at d[4b], s[4b] (see <see cref="Inter"/>).
    /// </summary>
    internal static void QuantizeQ8(float* x, int cols, sbyte* q, float* d, float* s, bool simd)
    {
        for (int b = 0; b < cols / 32; b++, x += 32, q += 32)
        {
            if (simd)
            {
                var v0 = Vector256.Load(x); var v1 = Vector256.Load(x + 8);
                var v2 = Vector256.Load(x + 16); var v3 = Vector256.Load(x + 24);
                var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)),
                                      Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
                float amax = HMax(m);
                float db = amax / 127f, id = amax == 0 ? 0 : 127f / amax;
                var vid = Vector256.Create(id);
                var i0 = Avx.ConvertToVector256Int32(v0 * vid); var i1 = Avx.ConvertToVector256Int32(v1 * vid);
                var i2 = Avx.ConvertToVector256Int32(v2 * vid); var i3 = Avx.ConvertToVector256Int32(v3 * vid);
                var sum = Vector256.Sum((i0 + i1) + (i2 + i3));
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store(q);
                d[4 * b] = db;
                s[4 * b] = db * sum;
            }
            else
            {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
                float db = amax / 127f, id = amax == 0 ? 0 : 127f / amax;
                int sum = 0;
                for (int j = 0; j < 32; j++)
                {
                    int v = (int)MathF.Round(x[j] * id);
                    q[j] = (sbyte)v;
                    sum += v;
                }
                d[4 * b] = db;
                s[4 * b] = db * sum;
            }
        }
    }

    /// <summary>Super-blocks of 256: d = max|x| / 127, q = round(x / d), and the sum of each 16 codes.</summary>
    internal static void QuantizeQ8K(float* x, int cols, sbyte* q, float* d, short* bsums, bool simd)
    {
        for (int b = 0; b < cols / 256; b++, x += 256, q += 256, bsums += 16)
        {
            float amax = 0;
            if (simd)
            {
                var m = Vector256<float>.Zero;
                for (int j = 0; j < 256; j += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + j)));
                amax = HMax(m);
            }
            else
            {
                for (int j = 0; j < 256; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            }
            float id = amax == 0 ? 0 : 127f / amax;
            d[b] = amax / 127f;
            if (simd)
            {
                var vid = Vector256.Create(id);
                for (int j = 0; j < 256; j += 16)
                {
                    var i0 = Avx.ConvertToVector256Int32(Vector256.Load(x + j) * vid);
                    var i1 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 8) * vid);
                    bsums[j / 16] = (short)Vector256.Sum(i0 + i1);
                    Vector128.Narrow(Vector256.Narrow(i0, i1).GetLower(), Vector256.Narrow(i0, i1).GetUpper()).Store(q + j);
                }
            }
            else
            {
                for (int g = 0; g < 16; g++)
                {
                    int sum = 0;
                    for (int j = 16 * g; j < 16 * g + 16; j++)
                    {
                        int v = (int)MathF.Round(x[j] * id);
                        q[j] = (sbyte)v;
                        sum += v;
                    }
                    bsums[g] = (short)sum;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HMax(Vector256<float> m)
    {
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
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
            // A single activation row (decode) has nothing to keep in L1: whole f32 rows, fewer reductions.
            int chunk = Type == GgmlType.F32 && N == 1 ? cols : FloatChunk;
            for (int rs = start; rs < end; rs += FloatTileR)
            {
                int re = Math.Min(end, rs + FloatTileR);
                for (int i0 = 0; i0 < N; i0 += FloatTileN)
                {
                    int i1 = Math.Min(N, i0 + FloatTileN);
                    new Span<float>(acc, FloatTileR * FloatTileN).Clear();
                    for (int c0 = 0; c0 < cols; c0 += chunk)
                    {
                        int len = Math.Min(chunk, cols - c0);
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

    /// <summary>
    /// acc[k·accStride + r] += w_r · x_k for four weight rows w_r = w + r·wStride and TN activation rows
    /// x_k = x + k·xStride: a 4×TN register tile of 512-bit accumulators.
    /// </summary>
    private static void DotF32x4<TN>(float* w, int wStride, int len, float* x, int xStride, float* acc, int accStride)
        where TN : struct, ICount
    {
        int n = TN.N;
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        Vector512<float> a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        float* w1 = w + wStride, w2 = w + 2 * wStride, w3 = w + 3 * wStride;
        int j = 0;
        for (; j + 16 <= len; j += 16)
        {
            var v0 = Vector512.Load(w + j); var v1 = Vector512.Load(w1 + j);
            var v2 = Vector512.Load(w2 + j); var v3 = Vector512.Load(w3 + j);
            var x0 = Vector512.Load(x + j);
            a00 = Vector512.FusedMultiplyAdd(v0, x0, a00); a10 = Vector512.FusedMultiplyAdd(v1, x0, a10);
            a20 = Vector512.FusedMultiplyAdd(v2, x0, a20); a30 = Vector512.FusedMultiplyAdd(v3, x0, a30);
            if (n > 1)
            {
                var x1 = Vector512.Load(x + xStride + j);
                a01 = Vector512.FusedMultiplyAdd(v0, x1, a01); a11 = Vector512.FusedMultiplyAdd(v1, x1, a11);
                a21 = Vector512.FusedMultiplyAdd(v2, x1, a21); a31 = Vector512.FusedMultiplyAdd(v3, x1, a31);
            }
            if (n > 2)
            {
                var x2 = Vector512.Load(x + 2 * xStride + j);
                a02 = Vector512.FusedMultiplyAdd(v0, x2, a02); a12 = Vector512.FusedMultiplyAdd(v1, x2, a12);
                a22 = Vector512.FusedMultiplyAdd(v2, x2, a22); a32 = Vector512.FusedMultiplyAdd(v3, x2, a32);
            }
            if (n > 3)
            {
                var x3 = Vector512.Load(x + 3 * xStride + j);
                a03 = Vector512.FusedMultiplyAdd(v0, x3, a03); a13 = Vector512.FusedMultiplyAdd(v1, x3, a13);
                a23 = Vector512.FusedMultiplyAdd(v2, x3, a23); a33 = Vector512.FusedMultiplyAdd(v3, x3, a33);
            }
        }
        // Four weight rows' sums for each activation row land next to each other in acc.
        (Vector128.Load(acc) + Reduce4(a00, a10, a20, a30)).Store(acc);
        if (n > 1) (Vector128.Load(acc + accStride) + Reduce4(a01, a11, a21, a31)).Store(acc + accStride);
        if (n > 2) (Vector128.Load(acc + 2 * accStride) + Reduce4(a02, a12, a22, a32)).Store(acc + 2 * accStride);
        if (n > 3) (Vector128.Load(acc + 3 * accStride) + Reduce4(a03, a13, a23, a33)).Store(acc + 3 * accStride);
        if (j < len) // columns past the last full vector
            for (int r = 0; r < 4; r++)
                for (int k = 0; k < n; k++)
                    acc[k * accStride + r] += DotF32Scalar(w + r * wStride + j, x + k * xStride + j, len - j);
    }

    /// <summary>The four horizontal sums of a, b, c, d as one vector: fold to 256 bits, then a hadd tree.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Reduce4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        var ab = Avx.HorizontalAdd(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper());
        var cd = Avx.HorizontalAdd(c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
        var abcd = Avx.HorizontalAdd(ab, cd); // [Σa Σb Σc Σd] as low-lane and high-lane halves
        return abcd.GetLower() + abcd.GetUpper();
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps the P/Invoke frame out of the kernel loop
    private static byte* HeapAlloc(nuint bytes) => (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(bytes);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void HeapFree(byte* p) => System.Runtime.InteropServices.NativeMemory.Free(p);

    private static void WidenF16(ushort* src, float* dst, int len, bool simd)
    {
        int j = 0;
        if (simd && Avx512F.IsSupported)
            for (; j + 16 <= len; j += 16) HalfToSingle(Vector256.Load(src + j)).Store(dst + j);
        if (simd)
            for (; j + 8 <= len; j += 8) HalfToSingle(Vector128.Load(src + j)).Store(dst + j);
        for (; j < len; j++) dst[j] = Quant.F16(src[j]);
    }

    /// <summary>Sixteen f16 → f32, as <see cref="HalfToSingle(Vector128{ushort})"/> at twice the width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> HalfToSingle(Vector256<ushort> h)
    {
        var x = Avx512F.ConvertToVector512Int32(h);
        var f = Vector512.ShiftLeft(x & Vector512.Create(0x7fff), 13).AsSingle() * Vector512.Create(F16RebiasBits).AsSingle();
        var special = Vector512.Equals(x & Vector512.Create(0x7c00), Vector512.Create(0x7c00)) & Vector512.Create(0x7f800000);
        return (f.AsInt32() | special | Vector512.ShiftLeft(x & Vector512.Create(0x8000), 16)).AsSingle();
    }

    /// <summary>
    /// The bits of 2^112: moves an f16 exponent field, placed in f32 position, to the f32 bias (15 → 127). A
    /// constant rather than a static readonly float, which costs a class-initialization check per use when the JIT
    /// compiles without tiering.
    /// </summary>
    private const int F16RebiasBits = (127 + 112) << 23;

    /// <summary>
    /// Eight f16 → f32 with integer ops (no F16C intrinsic in .NET): exponent and mantissa moved into f32 position
    /// and rebiased by one multiplication by 2^112, which is exact and also renormalizes subnormals; exponent 31
    /// (inf/nan) is forced to 255; then the sign.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> HalfToSingle(Vector128<ushort> h)
    {
        var x = Avx2.ConvertToVector256Int32(h);
        var f = Vector256.ShiftLeft(x & Vector256.Create(0x7fff), 13).AsSingle() * Vector256.Create(F16RebiasBits).AsSingle();
        var special = Vector256.Equals(x & Vector256.Create(0x7c00), Vector256.Create(0x7c00)) & Vector256.Create(0x7f800000);
        return (f.AsInt32() | special | Vector256.ShiftLeft(x & Vector256.Create(0x8000), 16)).AsSingle();
    }

    private static void WidenBF16(ushort* src, float* dst, int len, bool simd)
    {
        int j = 0;
        if (simd && Avx512F.IsSupported)
        {
            for (; j + 16 <= len; j += 16)
                Vector512.ShiftLeft(Avx512F.ConvertToVector512Int32(Vector256.Load(src + j)), 16).AsSingle().Store(dst + j);
        }
        if (simd)
        {
            // bf16 is the top half of an f32: widen and shift.
            for (; j + 16 <= len; j += 16)
            {
                var v = Vector256.Load(src + j);
                Vector256.ShiftLeft(Vector256.WidenLower(v), 16).AsSingle().Store(dst + j);
                Vector256.ShiftLeft(Vector256.WidenUpper(v), 16).AsSingle().Store(dst + j + 8);
            }
        }
        for (; j < len; j++) dst[j] = BitConverter.Int32BitsToSingle(src[j] << 16);
    }

    // ================================================================ kernels

    // Compile-time activation-row counts: the JIT specializes each kernel per struct type, dropping unused rows.
    private interface ICount { static abstract int N { get; } }
    private struct N1 : ICount { public static int N => 1; }
    private struct N2 : ICount { public static int N => 2; }
    private struct N3 : ICount { public static int N => 3; }
    private struct N4 : ICount { public static int N => 4; }

    /// <summary>Σ u·y over 32 bytes into 8 int32 lanes (u unsigned ≤ 255 only with VNNI; ≤ 128 with maddubs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotU8I8(Vector256<byte> u, Vector256<sbyte> y)
        => AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, y)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, y), Vector256.Create((short)1));

    /// <summary>
    /// One 32-block weight row against TN activation rows: Σ_blocks d_w·d_x·Σ(u·q) + m_w·(d_x·Σq).
    /// The code unpack and its scales are computed once per block for all rows.
    /// </summary>
    private static void Dot32<TW, TN>(byte* w, int nb, sbyte* q, float* dx, float* sx, int qStride, float* res) where TW : struct, Quant.IBlock32 where TN : struct, ICount
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        int n = TN.N;
        for (int b = 0; b < nb; b++, w += TW.Bytes, q += 32)
        {
            var u = TW.Unpack(w, out float d, out float m);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u, Vector256.Load(q))), Vector256.Create(d * dx[4 * b]), a0);
            c0 += m * sx[4 * b];
            if (n > 1)
            {
                a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u, Vector256.Load(q + qStride))), Vector256.Create(d * dx[4 * b + 1]), a1);
                c1 += m * sx[4 * b + 1];
            }
            if (n > 2)
            {
                a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u, Vector256.Load(q + 2 * qStride))), Vector256.Create(d * dx[4 * b + 2]), a2);
                c2 += m * sx[4 * b + 2];
            }
            if (n > 3)
            {
                a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u, Vector256.Load(q + 3 * qStride))), Vector256.Create(d * dx[4 * b + 3]), a3);
                c3 += m * sx[4 * b + 3];
            }
        }
        res[0] = Vector256.Sum(a0) + c0;
        if (n > 1) res[1] = Vector256.Sum(a1) + c1;
        if (n > 2) res[2] = Vector256.Sum(a2) + c2;
        if (n > 3) res[3] = Vector256.Sum(a3) + c3;
    }

    /// <summary>One weight row, one activation row: two blocks per step into two accumulators, so the loop is not
    /// bound by the FMA latency chain.</summary>
    private static float Dot32x1<TW>(byte* w, int nb, sbyte* q, float* dx, float* sx) where TW : struct, Quant.IBlock32
    {
        var a0 = Vector256<float>.Zero; var a1 = a0;
        float c0 = 0, c1 = 0;
        int b = 0;
        for (; b + 2 <= nb; b += 2, w += 2 * TW.Bytes, q += 64)
        {
            var u0 = TW.Unpack(w, out float d0, out float m0);
            var u1 = TW.Unpack(w + TW.Bytes, out float d1, out float m1);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u0, Vector256.Load(q))), Vector256.Create(d0 * dx[4 * b]), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u1, Vector256.Load(q + 32))), Vector256.Create(d1 * dx[4 * b + 4]), a1);
            c0 += m0 * sx[4 * b];
            c1 += m1 * sx[4 * b + 4];
        }
        if (b < nb)
        {
            var u0 = TW.Unpack(w, out float d0, out float m0);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(u0, Vector256.Load(q))), Vector256.Create(d0 * dx[4 * b]), a0);
            c0 += m0 * sx[4 * b];
        }
        return Vector256.Sum(a0 + a1) + (c0 + c1);
    }

    /// <summary>
    /// One 32-block weight row against four activation rows. The four int32×8 block dots are folded by a hadd
    /// tree into one vector (lane k and k+4 hold row k's halves), so the f32 conversion, the scaling by
    /// d_w·d_x (the four rows' d_x are adjacent, see <see cref="Inter"/>) and the offset term cost one
    /// instruction each per block instead of one per block and row.
    /// </summary>
    private static void Dot32x4<TW>(byte* w, int nb, sbyte* q, int qStride, float* dx, float* sx, float* res)
        where TW : struct, Quant.IBlock32
    {
        var acc = Vector256<float>.Zero;
        var cacc = Vector128<float>.Zero;
        sbyte* q1 = q + qStride, q2 = q + 2 * qStride, q3 = q + 3 * qStride;
        for (int b = 0; b < nb; b++, w += TW.Bytes)
        {
            var u = TW.Unpack(w, out float d, out float m);
            int o = 32 * b;
            var h = Avx2.HorizontalAdd(
                Avx2.HorizontalAdd(DotU8I8(u, Vector256.Load(q + o)), DotU8I8(u, Vector256.Load(q1 + o))),
                Avx2.HorizontalAdd(DotU8I8(u, Vector256.Load(q2 + o)), DotU8I8(u, Vector256.Load(q3 + o))));
            var sc = Vector128.Load(dx + 4 * b) * d;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(h), Vector256.Create(sc, sc), acc);
            cacc = Fma.MultiplyAdd(Vector128.Load(sx + 4 * b), Vector128.Create(m), cacc);
        }
        (acc.GetLower() + acc.GetUpper() + cacc).Store(res);
    }

    /// <summary>Q8_0 against four activation rows, folded as in <see cref="Dot32x4{TW}"/>.</summary>
    private static void DotQ8_0x4(byte* w, int nb, sbyte* q, int qStride, float* dx, float* res)
    {
        var acc = Vector256<float>.Zero;
        sbyte* q1 = q + qStride, q2 = q + 2 * qStride, q3 = q + 3 * qStride;
        for (int b = 0; b < nb; b++, w += 34)
        {
            var wv = Vector256.Load((sbyte*)(w + 2));
            var aw = Avx2.Abs(wv);
            int o = 32 * b;
            var h = Avx2.HorizontalAdd(
                Avx2.HorizontalAdd(DotU8I8(aw, Avx2.Sign(Vector256.Load(q + o), wv)), DotU8I8(aw, Avx2.Sign(Vector256.Load(q1 + o), wv))),
                Avx2.HorizontalAdd(DotU8I8(aw, Avx2.Sign(Vector256.Load(q2 + o), wv)), DotU8I8(aw, Avx2.Sign(Vector256.Load(q3 + o), wv))));
            var sc = Vector128.Load(dx + 4 * b) * Quant.F16(w);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(h), Vector256.Create(sc, sc), acc);
        }
        (acc.GetLower() + acc.GetUpper()).Store(res);
    }

    private static float Dot32Scalar(GgmlType t, byte* w, int nb, sbyte* q, float* dx, float* sx)
    {
        byte* u = stackalloc byte[32];
        int bytes = GgmlTypeInfo.BlockBytes(t);
        float acc = 0;
        for (int b = 0; b < nb; b++, w += bytes, q += 32)
        {
            Quant.Unpack32Scalar(t, w, u, out float d, out float m);
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += u[j] * q[j];
            acc += d * dx[4 * b] * isum + m * sx[4 * b];
        }
        return acc;
    }

    /// <summary>Q8_0 weights are signed, so maddubs takes |w| and moves w's sign onto the activation.</summary>
    private static void DotQ8_0<TN>(byte* w, int nb, sbyte* q, float* dx, int qStride, float* res)
        where TN : struct, ICount
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int n = TN.N;
        for (int b = 0; b < nb; b++, w += 34, q += 32)
        {
            float d = Quant.F16(w);
            var wv = Vector256.Load((sbyte*)(w + 2));
            var aw = Avx2.Abs(wv);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(aw, Avx2.Sign(Vector256.Load(q), wv))), Vector256.Create(d * dx[4 * b]), a0);
            if (n > 1) a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(aw, Avx2.Sign(Vector256.Load(q + qStride), wv))), Vector256.Create(d * dx[4 * b + 1]), a1);
            if (n > 2) a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(aw, Avx2.Sign(Vector256.Load(q + 2 * qStride), wv))), Vector256.Create(d * dx[4 * b + 2]), a2);
            if (n > 3) a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotU8I8(aw, Avx2.Sign(Vector256.Load(q + 3 * qStride), wv))), Vector256.Create(d * dx[4 * b + 3]), a3);
        }
        res[0] = Vector256.Sum(a0);
        if (n > 1) res[1] = Vector256.Sum(a1);
        if (n > 2) res[2] = Vector256.Sum(a2);
        if (n > 3) res[3] = Vector256.Sum(a3);
    }

    /// <summary>One Q8_0 row against one activation row, two blocks per step (two FMA chains).</summary>
    private static float DotQ8_0x1(byte* w, int nb, sbyte* q, float* dx)
    {
        var a0 = Vector256<float>.Zero; var a1 = a0;
        int b = 0;
        for (; b + 2 <= nb; b += 2, w += 68, q += 64)
        {
            var w0 = Vector256.Load((sbyte*)(w + 2));
            var w1 = Vector256.Load((sbyte*)(w + 36));
            var p0 = DotU8I8(Avx2.Abs(w0), Avx2.Sign(Vector256.Load(q), w0));
            var p1 = DotU8I8(Avx2.Abs(w1), Avx2.Sign(Vector256.Load(q + 32), w1));
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(Quant.F16(w) * dx[4 * b]), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(Quant.F16(w + 34) * dx[4 * b + 4]), a1);
        }
        if (b < nb)
        {
            var w0 = Vector256.Load((sbyte*)(w + 2));
            var p0 = DotU8I8(Avx2.Abs(w0), Avx2.Sign(Vector256.Load(q), w0));
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(Quant.F16(w) * dx[4 * b]), a0);
        }
        return Vector256.Sum(a0 + a1);
    }

    /// <summary>
    /// Q4_K row · one Q8_K activation row, decoded in registers (as ggml_vec_dot_q4_K_q8_K): per 32-group,
    /// maddubs of the nibbles with the activations, madd with the group's 6-bit scale; mins against the
    /// activation's 16-sums once per super-block.
    /// </summary>
    private static float DotQ4_K(byte* w, int nsb, sbyte* q, float* dx, short* bsums)
    {
        var acc = Vector256<float>.Zero;
        var macc = Vector256<float>.Zero;
        var m15 = Vector256.Create((byte)15);
        var dup = Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        for (int sb = 0; sb < nsb; sb++, w += 144, q += 256, bsums += 16)
        {
            // The twelve packed bytes to eight 6-bit scales and eight mins with word-wide masks (ggml's utmp trick).
            uint u0 = Unsafe.ReadUnaligned<uint>(w + 4), u1 = Unsafe.ReadUnaligned<uint>(w + 8), u2 = Unsafe.ReadUnaligned<uint>(w + 12);
            ulong scales = (u0 & 0x3f3f3f3fu) | (ulong)((u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4)) << 32;
            ulong mins = (u1 & 0x3f3f3f3fu) | (ulong)(((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4)) << 32;
            var mins16 = Avx2.ConvertToVector256Int16(Ssse3.Shuffle(Vector128.CreateScalar(mins).AsByte(), dup));
            var msum = Avx2.MultiplyAddAdjacent(mins16, Vector256.Load(bsums));
            byte* qs = w + 16;
            var sumi = Vector256<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(qs + 32 * c);
                var lo = v & m15;
                var hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & m15;
                var p0 = Avx2.MultiplyAddAdjacent(lo, Vector256.Load(q + 64 * c));
                var p1 = Avx2.MultiplyAddAdjacent(hi, Vector256.Load(q + 64 * c + 32));
                sumi += Avx2.MultiplyAddAdjacent(p0, Vector256.Create((short)(byte)(scales >> (16 * c))));
                sumi += Avx2.MultiplyAddAdjacent(p1, Vector256.Create((short)(byte)(scales >> (16 * c + 8))));
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(Quant.F16(w) * dx[sb]), acc);
            macc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(msum), Vector256.Create(Quant.F16(w + 2) * dx[sb]), macc);
        }
        return Vector256.Sum(acc - macc);
    }

    /// <summary>
    /// Q6_K row · one Q8_K activation row, decoded in registers (as ggml_vec_dot_q6_K_q8_K): codes are 0..63 with
    /// value scale·(x − 32), so Σ scale·x·q is corrected by 32·Σ scale·(16-sum of q) once per super-block.
    /// </summary>
    private static float DotQ6_K(byte* w, int nsb, sbyte* q, float* dx, short* bsums)
    {
        var acc = Vector256<float>.Zero;
        var m15 = Vector256.Create((byte)15);
        var m30 = Vector256.Create((byte)0x30);
        var pick = Vector256.Create((byte)0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                    2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
        for (int sb = 0; sb < nsb; sb++, w += 210, q += 256, bsums += 16)
        {
            var scales = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(w + 192)));
            var sumi = -Vector256.ShiftLeft(Avx2.MultiplyAddAdjacent(scales, Vector256.Load(bsums)), 5);
            var sc32 = scales.AsInt32();
            for (int h = 0; h < 2; h++)
            {
                var a = Vector256.Load(w + 64 * h);
                var c = Vector256.Load(w + 64 * h + 32);
                var hb = Vector256.Load(w + 128 + 32 * h).AsUInt16();
                var u0 = (a & m15) | (Vector256.ShiftLeft(hb, 4).AsByte() & m30);
                var u1 = (c & m15) | (Vector256.ShiftLeft(hb, 2).AsByte() & m30);
                var u2 = (Vector256.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & m15) | (hb.AsByte() & m30);
                var u3 = (Vector256.ShiftRightLogical(c.AsUInt16(), 4).AsByte() & m15) | (Vector256.ShiftRightLogical(hb, 2).AsByte() & m30);
                sbyte* y = q + 128 * h;
                int g = 4 * h;
                sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Vector256.Load(y)),
                    Avx2.Shuffle(Avx2.PermuteVar8x32(sc32, Vector256.Create(g)).AsByte(), pick).AsInt16());
                sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Vector256.Load(y + 32)),
                    Avx2.Shuffle(Avx2.PermuteVar8x32(sc32, Vector256.Create(g + 1)).AsByte(), pick).AsInt16());
                sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u2, Vector256.Load(y + 64)),
                    Avx2.Shuffle(Avx2.PermuteVar8x32(sc32, Vector256.Create(g + 2)).AsByte(), pick).AsInt16());
                sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u3, Vector256.Load(y + 96)),
                    Avx2.Shuffle(Avx2.PermuteVar8x32(sc32, Vector256.Create(g + 3)).AsByte(), pick).AsInt16());
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(Quant.F16(w + 208) * dx[sb]), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Any k-quant row · one Q8_K activation row with the codes decoded in registers, 32 at a time: maddubs with
    /// the activations, madd with the two 16-group scales; mins against the 16-sums once per super-block.
    /// </summary>
    private static float DotKDirect<TK>(byte* w, int nsb, sbyte* q, float* dx, short* bsums) where TK : struct, Quant.IKBlock
    {
        var acc = Vector256<float>.Zero;
        var macc = Vector256<float>.Zero;
        var pick = Vector256.Create((byte)0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                    2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
        for (int sb = 0; sb < nsb; sb++, w += TK.Bytes, q += 256, bsums += 16)
        {
            TK.Scales(w, out var scales, out var mins, out float d, out float dm);
            var sc32 = scales.AsInt32();
            var sumi = Vector256<int>.Zero;
            for (int k = 0; k < 8; k++)
            {
                var pair = Avx2.Shuffle(Avx2.PermuteVar8x32(sc32, Vector256.Create(k)).AsByte(), pick).AsInt16();
                sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(TK.Codes(w, k), Vector256.Load(q + 32 * k)), pair);
            }
            var msum = Avx2.MultiplyAddAdjacent(mins, Vector256.Load(bsums));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d * dx[sb]), acc);
            macc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(msum), Vector256.Create(dm * dx[sb]), macc);
        }
        return Vector256.Sum(acc - macc);
    }

    private static float DotQ8_0Scalar(byte* w, int nb, sbyte* q, float* dx)
    {
        float acc = 0;
        for (int b = 0; b < nb; b++, w += 34, q += 32)
        {
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += ((sbyte*)(w + 2))[j] * q[j];
            acc += Quant.F16(w) * dx[4 * b] * isum;
        }
        return acc;
    }

    /// <summary>
    /// A decoded k-quant row against TN activation rows. Per super-block: maddubs(u, q) over 32 codes gives 16 pair
    /// sums, madd with the two group scales (group 2g's ×8 in the low lane, 2g+1's in the high lane, built once
    /// per g by a dword broadcast and a byte shuffle) folds them to 8 int32; the min term is one madd of the 16
    /// mins with the activation's 16 group sums.
    /// </summary>
    private static void DotK<TN>(byte* unp, float* ds, float* dms, int nsb, sbyte* q, float* dx, short* bsums,
        int qStride, int dStride, int bStride, float* res) where TN : struct, ICount
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int n = TN.N;
        for (int sb = 0; sb < nsb; sb++, unp += Quant.KUnpackedBytes, q += 256, bsums += 16)
        {
            var s0 = Vector256<int>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
            var scales = Vector256.Load((int*)(unp + 256));
            var pick = Vector256.Create((byte)0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                        2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
            for (int g = 0; g < 8; g++)
            {
                var u = Vector256.Load(unp + 32 * g);
                var sc = Avx2.Shuffle(Avx2.PermuteVar8x32(scales, Vector256.Create(g)).AsByte(), pick).AsInt16();
                s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Vector256.Load(q + 32 * g)), sc);
                if (n > 1) s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Vector256.Load(q + qStride + 32 * g)), sc);
                if (n > 2) s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Vector256.Load(q + 2 * qStride + 32 * g)), sc);
                if (n > 3) s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Vector256.Load(q + 3 * qStride + 32 * g)), sc);
            }
            var mins = Vector256.Load((short*)(unp + 288));
            float d = ds[sb], dm = -dms[sb];
            a0 = KAccumulate(a0, s0, mins, bsums, d, dm, dx[sb]);
            if (n > 1) a1 = KAccumulate(a1, s1, mins, bsums + bStride, d, dm, dx[dStride + sb]);
            if (n > 2) a2 = KAccumulate(a2, s2, mins, bsums + 2 * bStride, d, dm, dx[2 * dStride + sb]);
            if (n > 3) a3 = KAccumulate(a3, s3, mins, bsums + 3 * bStride, d, dm, dx[3 * dStride + sb]);
        }
        res[0] = Vector256.Sum(a0);
        if (n > 1) res[1] = Vector256.Sum(a1);
        if (n > 2) res[2] = Vector256.Sum(a2);
        if (n > 3) res[3] = Vector256.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> KAccumulate(Vector256<float> acc, Vector256<int> sumi, Vector256<short> mins,
        short* bsums, float d, float negDm, float dx)
    {
        var msum = Avx2.MultiplyAddAdjacent(mins, Vector256.Load(bsums));
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d * dx), acc);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(msum), Vector256.Create(negDm * dx), acc);
    }

    private static float DotKScalar(byte* unp, float* ds, float* dms, int nsb, sbyte* q, float* dx, short* bsums)
    {
        float acc = 0;
        for (int sb = 0; sb < nsb; sb++, unp += Quant.KUnpackedBytes, q += 256, bsums += 16)
        {
            short* sc = (short*)(unp + 256);
            short* mins = (short*)(unp + 288);
            int sumi = 0, msum = 0;
            for (int j = 0; j < 16; j++)
            {
                int isum = 0;
                for (int l = 0; l < 16; l++) isum += unp[16 * j + l] * q[16 * j + l];
                sumi += sc[j] * isum;
                msum += mins[j] * bsums[j];
            }
            acc += dx[sb] * (ds[sb] * sumi - dms[sb] * msum);
        }
        return acc;
    }

    /// <summary>acc[k·accStride] += w · x_k for TN activation rows x_k = x + k·stride; two accumulators per row hide FMA latency.</summary>
    private static void DotF32<TN>(float* w, int len, float* x, int stride, float* acc, int accStride) where TN : struct, ICount
    {
        int n = TN.N;
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        int j = 0;
        for (; j + 16 <= len; j += 16)
        {
            var w0 = Vector256.Load(w + j);
            var w1 = Vector256.Load(w + j + 8);
            a0 = Fma.MultiplyAdd(w0, Vector256.Load(x + j), a0);
            b0 = Fma.MultiplyAdd(w1, Vector256.Load(x + j + 8), b0);
            if (n > 1) { a1 = Fma.MultiplyAdd(w0, Vector256.Load(x + stride + j), a1); b1 = Fma.MultiplyAdd(w1, Vector256.Load(x + stride + j + 8), b1); }
            if (n > 2) { a2 = Fma.MultiplyAdd(w0, Vector256.Load(x + 2 * stride + j), a2); b2 = Fma.MultiplyAdd(w1, Vector256.Load(x + 2 * stride + j + 8), b2); }
            if (n > 3) { a3 = Fma.MultiplyAdd(w0, Vector256.Load(x + 3 * stride + j), a3); b3 = Fma.MultiplyAdd(w1, Vector256.Load(x + 3 * stride + j + 8), b3); }
        }
        acc[0] += Vector256.Sum(a0 + b0) + DotF32Scalar(w + j, x + j, len - j);
        if (n > 1) acc[accStride] += Vector256.Sum(a1 + b1) + DotF32Scalar(w + j, x + stride + j, len - j);
        if (n > 2) acc[2 * accStride] += Vector256.Sum(a2 + b2) + DotF32Scalar(w + j, x + 2 * stride + j, len - j);
        if (n > 3) acc[3 * accStride] += Vector256.Sum(a3 + b3) + DotF32Scalar(w + j, x + 3 * stride + j, len - j);
    }

    private static float DotF32Scalar(float* w, float* x, int len)
    {
        float s = 0;
        for (int j = 0; j < len; j++) s += w[j] * x[j];
        return s;
    }
}
