using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Batched y[n, rows] = x[n, cols] · wᵀ for F32/F16/BF16 weights with AVX-512 or AVX2 + FMA, in the BLAS micro-kernel shape:
/// a panel of up to 64 weight rows × <see cref="KBlock"/> columns is transposed (and widened to f32) into a k-major
/// buffer in L1, so one 512-bit load holds 16 weight rows at one column; each step of the micro-kernel loads four
/// such vectors, broadcasts one activation value for each of six activation rows and does 24 FMAs into 24
/// accumulators that are 6 × 64 outputs laid out as y is. No horizontal reductions; y is added to per column block.
/// The blocking (this file) is shared; the packing and micro-kernels are per ISA: <see cref="Panel512"/> here, the
/// 256-bit ones in FloatGemm.Avx2.cs. BF16 batches on AVX-512 go through the int16 panels of FloatGemm.Int16.cs
/// instead (bf16-grade precision, twice the products per instruction).
/// </summary>
[SkipLocalsInit] // the pack buffer and the tail tile are written before they are read
internal static unsafe partial class FloatGemm
{
    /// <summary>
    /// Activation rows from which the per-call transpose of the weights pays for itself (kernel bench, 1 thread,
    /// 288/768-sized matrices): F32 breaks even with the per-row kernel at 16-32 rows; F16 and BF16, whose per-row
    /// path widens every weight once per 16 activation rows anyway, at 2-8. On AVX2 (no AVX-512) the GEMM wins from
    /// 2 rows for every type (whole-model pp A/B, 2 threads: F32 stories110M pp2 1.6×, pp4 2×; F16 Qwen2.5-0.5B pp2
    /// 1.75×; BF16 Llama-3.2-1B pp2 2.2×): without AVX-512, MatMul's float path dots one weight row at a time, with a
    /// horizontal reduction per dot and no 4-row tiles.
    /// </summary>
    private const int MinRowsF32 = 24, MinRowsHalf = 8, MinRowsAvx2 = 2;

    /// <summary>Columns per packed block: 64 rows × 128 columns of f32 = 32 KiB, which stays in L1 (48 KiB); AVX2's 32-row panels take 16 KiB of older cores' 32 KiB.</summary>
    private const int KBlock = 128;

    /// <summary>Activation rows per micro-tile.</summary>
    private const int TileRows = 6;

    private static bool Use512 => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    private static bool Use256 => Avx2.IsSupported && Fma.IsSupported;

    public static bool Handles(GgmlType t, int n) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        && (Use512 ? n >= (t == GgmlType.F32 ? MinRowsF32 : MinRowsHalf) : Use256 && n >= MinRowsAvx2);

    public static void Multiply(WeightMatrix w, float* x, float* y, int n, WorkerPool pool)
    {
        if (!Use512) Run<Panel256>(w, x, y, n, pool);
        else if (!TryMultiplyInt16(w, x, y, n, pool)) Run<Panel512>(w, x, y, n, pool);
    }

    /// <summary>How one ISA packs a panel of weights and multiplies activation tiles against it.</summary>
    private interface IPanelKernel
    {
        /// <summary>Most weight rows per packed panel (a multiple of 16: ranges and panels are cut in 16s).</summary>
        static abstract int PanelRows { get; }

        /// <summary>
        /// Packs rows [0, nr) of w, columns [k0, k0 + len), widened to f32 by TW, into dst, padded with zeros to
        /// stride (nr rounded up to 16) rows in whatever layout <see cref="Tile"/> reads.
        /// </summary>
        static abstract void Pack<TW>(byte* w, long rowBytes, int nr, int stride, int k0, int len, float* dst) where TW : struct, IFloatLoad;

        /// <summary>y[i, j] (+)= Σ_k x[i, k] · w[j, k] for i &lt; m (≤ TileRows), j &lt; nr, from a packed panel of groups × 16 rows.</summary>
        static abstract void Tile(int m, int groups, float* pack, int len, float* x, int ldx, float* y, int ldy, int nr, bool accumulate);
    }

    private static void Run<TK>(WeightMatrix w, float* x, float* y, int n, WorkerPool pool) where TK : struct, IPanelKernel
    {
        var body = new Body<TK>
        {
            Type = w.Type, FiniteF16 = HalfConversion.IsFiniteF16(w, pool), W = w.Data, RowBytes = w.RowBytes, Rows = w.Rows, Cols = w.Cols, N = n, X = x, Y = y,
        };
        // Ranges start at multiples of 16 weight rows so only the very last panel can hold a partial vector; of 64
        // (whole four-vector panels) when there are enough rows to keep every thread busy with those.
        int alignment = w.Rows >= 4 * TK.PanelRows * pool.ThreadCount ? TK.PanelRows : 16;
        pool.Run(w.Rows, ref body, alignment);
    }

    private struct Body<TK> : IRangeBody where TK : struct, IPanelKernel
    {
        public GgmlType Type;
        public bool FiniteF16;
        public byte* W;
        public long RowBytes;
        public int Rows, Cols, N;
        public float* X, Y;

        /// <summary>
        /// The weights' encoding picked once per range; F16 matrices checked free of inf/NaN widen with the shorter
        /// conversion (four operations instead of ten).
        /// </summary>
        public readonly void Invoke(int start, int end)
        {
            if (FiniteF16) Run<FromCheckedF16>(start, end);
            else if (Type == GgmlType.F16) Run<FromF16>(start, end);
            else if (Type == GgmlType.BF16) Run<FromBF16>(start, end);
            else Run<FromF32>(start, end);
        }

        private readonly void Run<TW>(int start, int end) where TW : struct, IFloatLoad
        {
            int panelRows = TK.PanelRows;
            float* raw = stackalloc float[KBlock * panelRows + 16];
            float* pack = (float*)(((nuint)raw + 63) & ~(nuint)63); // [k][panel row]: one cache line per vector
            int cols = Cols;
            // Even column blocks, a multiple of 16 (whole transposes): 288 → 3 × 96, not 128 + 128 + 32.
            int kc = EvenSplit.Piece(cols, KBlock, 16);
            // Even panels too: 96 rows → 48 + 48 (three vectors each) rather than 64 + 32.
            int width = EvenSplit.Piece(end - start, panelRows, 16);
            int elementBytes = TW.ElementBytes;
            int tiles = (N + TileRows - 1) / TileRows;
            for (int p = start; p < end; p += width)
            {
                int nr = Math.Min(width, end - p);
                int vectors = (nr + 15) >> 4;
                for (int k0 = 0; k0 < cols; k0 += kc)
                {
                    int len = Math.Min(kc, cols - k0);
                    TK.Pack<TW>(W + p * RowBytes, RowBytes, nr, vectors * 16, k0, len, pack);

                    // While the tiles below keep the FMA units busy, pull the next block's weights into L2, a few
                    // lines per tile: packing reads 16 rows at a time, too short a stream per row for the hardware
                    // prefetchers, and would otherwise wait on L3 or memory for every transpose.
                    int np = p, nk = k0 + kc;
                    if (nk >= cols) { np = p + width; nk = 0; }
                    var prefetch = new Prefetcher(W + np * RowBytes + (long)nk * elementBytes, RowBytes,
                        np < end ? Math.Min(width, end - np) : 0, Math.Min(kc, cols - nk) * elementBytes);
                    int perTile = prefetch.Lines / tiles + 1;

                    for (int i = 0; i < N; i += TileRows)
                    {
                        int m = Math.Min(TileRows, N - i);
                        TK.Tile(m, vectors, pack, len, X + (long)i * cols + k0, cols, Y + (long)i * Rows + p, Rows, nr, k0 > 0);
                        prefetch.Next(perTile);
                    }
                }
            }
        }
    }

    /// <summary>Walks the cache lines of a block of rows, prefetching a given number at a time into L2.</summary>
    private struct Prefetcher
    {
        private byte* _row, _line;
        private readonly byte* _end;
        private readonly long _rowBytes;
        private readonly int _span;

        public Prefetcher(byte* first, long rowBytes, int rows, int bytesPerRow)
        {
            _row = first;
            _line = first;
            _end = first + rows * rowBytes;
            _rowBytes = rowBytes;
            _span = bytesPerRow;
            Lines = rows * ((bytesPerRow + 63) / 64 + 1);
        }

        /// <summary>Upper bound on the lines to fetch (a row may straddle one more line than its length).</summary>
        public int Lines { get; }

        [MethodImpl(MethodImplOptions.NoInlining)] // its own registers: inlined, the caller's loop spilled them
        public void Next(int count)
        {
            byte* row = _row, line = _line;
            for (; count > 0 && row < _end; count--)
            {
                Sse.Prefetch1(line);
                line += 64;
                if (line >= row + _span) { row += _rowBytes; line = row; }
            }
            _row = row;
            _line = line;
        }
    }

    /// <summary>y[i, j] (+)= tile[i, j] for i &lt; m, j &lt; nr: the part of a stack tile that a partial panel owns.</summary>
    private static void StoreTile(float* tile, int ldt, int m, int nr, float* y, int ldy, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < nr; j++)
                y[(long)i * ldy + j] = accumulate ? y[(long)i * ldy + j] + tile[i * ldt + j] : tile[i * ldt + j];
    }

    /// <summary>The AVX-512 panels: 16 × 16 transposes into [k][panel row], a 6 × 64 tile of 512-bit FMAs.</summary>
    private readonly struct Panel512 : IPanelKernel
    {
        public static int PanelRows => 64;

        /// <summary>
        /// dst[k·stride + j] = w[j, k0 + k] as f32 for j &lt; nr, 0 for nr ≤ j &lt; stride (the padding of a partial
        /// last vector). Full 16 × 16 blocks go through an in-register transpose; edges are copied one by one.
        /// </summary>
        public static void Pack<TW>(byte* w, long rowBytes, int nr, int stride, int k0, int len, float* dst) where TW : struct, IFloatLoad
        {
            int fullK = len & ~15;
            for (int g = 0; g < stride; g += 16)
            {
                int rowsHere = Math.Min(16, nr - g);
                if (rowsHere == 16)
                {
                    byte* wg = w + g * rowBytes;
                    for (int k = 0; k < fullK; k += 16)
                        Transpose16<TW>(wg, rowBytes, k0 + k, dst + k * stride + g, stride);
                    for (int k = fullK; k < len; k++)
                        for (int j = 0; j < 16; j++)
                            dst[k * stride + g + j] = TW.Load1(w + (g + j) * rowBytes, k0 + k);
                }
                else
                {
                    for (int k = 0; k < len; k++)
                        for (int j = 0; j < 16; j++)
                            dst[k * stride + g + j] = j < rowsHere ? TW.Load1(w + (g + j) * rowBytes, k0 + k) : 0f;
                }
            }
        }


        /// <summary>Sixteen rows × sixteen columns starting at column k, written column-major to dst (stride apart).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Transpose16<TW>(byte* w, long rowBytes, int k, float* dst, int stride) where TW : struct, IFloatLoad
        {
            var rows = new WeightRows<TW> { W = w, RowBytes = rowBytes, K = k };
            Kernels.Transpose16.Run(ref rows, dst, stride);
        }

        /// <summary>Row i of a 16-row weight block at column k, widened to f32 by TW.</summary>
        private struct WeightRows<TW> : IRows16 where TW : struct, IFloatLoad
        {
            public byte* W;
            public long RowBytes;
            public int K;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public readonly Vector512<float> Load(int row) => TW.Load16(W + row * RowBytes, K);
        }

        /// <summary>
        /// y[i, j] (+)= Σ_k x[i, k] · pack[k, j] for i &lt; m, j &lt; nr. A panel whose last vector is partial goes
        /// through a stack tile so the kernels only ever store whole vectors.
        /// </summary>
        public static void Tile(int m, int vectors, float* pack, int len, float* x, int ldx, float* y, int ldy, int nr,
            bool accumulate)
        {
            if (nr == vectors * 16)
            {
                Kernel(m, vectors, pack, len, x, ldx, y, ldy, accumulate);
                return;
            }
            float* tile = stackalloc float[TileRows * PanelRows];
            Kernel(m, vectors, pack, len, x, ldx, tile, PanelRows, acc: false);
            StoreTile(tile, PanelRows, m, nr, y, ldy, accumulate);
        }

        private static void Kernel(int m, int vectors, float* pack, int len, float* x, int ldx, float* y, int ldy, bool acc)
        {
            switch (vectors)
            {
                case 4: KernelRows<N4>(m, pack, len, x, ldx, y, ldy, acc); break;
                case 3: KernelRows<N3>(m, pack, len, x, ldx, y, ldy, acc); break;
                case 2: KernelRows<N2>(m, pack, len, x, ldx, y, ldy, acc); break;
                default: KernelRows<N1>(m, pack, len, x, ldx, y, ldy, acc); break;
            }
        }

        private static void KernelRows<TV>(int m, float* pack, int len, float* x, int ldx, float* y, int ldy, bool acc)
            where TV : struct, ICount
        {
            switch (m)
            {
                case 6: Micro<N6, TV>(pack, len, x, ldx, y, ldy, acc); break;
                case 5: Micro<N5, TV>(pack, len, x, ldx, y, ldy, acc); break;
                case 4: Micro<N4, TV>(pack, len, x, ldx, y, ldy, acc); break;
                case 3: Micro<N3, TV>(pack, len, x, ldx, y, ldy, acc); break;
                case 2: Micro<N2, TV>(pack, len, x, ldx, y, ldy, acc); break;
                default: Micro<N1, TV>(pack, len, x, ldx, y, ldy, acc); break;
            }
        }

        /// <summary>
        /// The register tile: TM (≤ 6) activation rows × TV (≤ 4) vectors of 16 weight rows, so up to 24 of the 32
        /// zmm registers accumulate, 4 hold weights and one a broadcast activation.
        /// </summary>
        private static void Micro<TM, TV>(float* pack, int len, float* x, int ldx, float* y, int ldy, bool acc)
            where TM : struct, ICount where TV : struct, ICount
        {
            int m = TM.N, nv = TV.N, step = 16 * nv;
            var z = Vector512<float>.Zero;
            Vector512<float> c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
            Vector512<float> c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
            Vector512<float> c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
            float* x0 = x, x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx, x4 = x + 4 * ldx, x5 = x + 5 * ldx;
            for (int k = 0; k < len; k++, pack += step)
            {
                var w0 = Vector512.Load(pack);
                var w1 = nv > 1 ? Vector512.Load(pack + 16) : z;
                var w2 = nv > 2 ? Vector512.Load(pack + 32) : z;
                var w3 = nv > 3 ? Vector512.Load(pack + 48) : z;
                Row<TV>(x0[k], w0, w1, w2, w3, ref c00, ref c01, ref c02, ref c03);
                if (m > 1) Row<TV>(x1[k], w0, w1, w2, w3, ref c10, ref c11, ref c12, ref c13);
                if (m > 2) Row<TV>(x2[k], w0, w1, w2, w3, ref c20, ref c21, ref c22, ref c23);
                if (m > 3) Row<TV>(x3[k], w0, w1, w2, w3, ref c30, ref c31, ref c32, ref c33);
                if (m > 4) Row<TV>(x4[k], w0, w1, w2, w3, ref c40, ref c41, ref c42, ref c43);
                if (m > 5) Row<TV>(x5[k], w0, w1, w2, w3, ref c50, ref c51, ref c52, ref c53);
            }
            Put<TV>(y, c00, c01, c02, c03, acc);
            if (m > 1) Put<TV>(y + ldy, c10, c11, c12, c13, acc);
            if (m > 2) Put<TV>(y + 2 * ldy, c20, c21, c22, c23, acc);
            if (m > 3) Put<TV>(y + 3 * ldy, c30, c31, c32, c33, acc);
            if (m > 4) Put<TV>(y + 4 * ldy, c40, c41, c42, c43, acc);
            if (m > 5) Put<TV>(y + 5 * ldy, c50, c51, c52, c53, acc);
        }

        /// <summary>One activation row's step: its value at k broadcast against the TV weight vectors, into its accumulators.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row<TV>(float xk, Vector512<float> w0, Vector512<float> w1, Vector512<float> w2, Vector512<float> w3,
            ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3) where TV : struct, ICount
        {
            var b = Vector512.Create(xk);
            c0 = Vector512.FusedMultiplyAdd(w0, b, c0);
            if (TV.N > 1) c1 = Vector512.FusedMultiplyAdd(w1, b, c1);
            if (TV.N > 2) c2 = Vector512.FusedMultiplyAdd(w2, b, c2);
            if (TV.N > 3) c3 = Vector512.FusedMultiplyAdd(w3, b, c3);
        }

        /// <summary>y (+)= the TV accumulators (whole vectors).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Put<TV>(float* y, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d,
            bool acc) where TV : struct, ICount
        {
            int nv = TV.N;
            if (acc)
            {
                a += Vector512.Load(y);
                if (nv > 1) b += Vector512.Load(y + 16);
                if (nv > 2) c += Vector512.Load(y + 32);
                if (nv > 3) d += Vector512.Load(y + 48);
            }
            a.Store(y);
            if (nv > 1) b.Store(y + 16);
            if (nv > 2) c.Store(y + 32);
            if (nv > 3) d.Store(y + 48);
        }
    }
}
