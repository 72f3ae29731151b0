using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Batched BF16 weights on AVX-512 as 16-bit integers: <c>vpmaddwd</c> (AVX-512BW) multiplies 32 pairs of int16 per
/// instruction where an f32 FMA does 16, and with its <c>vpaddd</c> on the other vector pipes it reached 1.8× the
/// f32 FMA rate on Zen 5 (212 vs 116 GMAC/s per core). It stands in for AVX512-BF16's <c>vdpbf16ps</c>, which llama.cpp
/// uses and .NET 10 does not expose.
/// <para>
/// Precision is bf16-grade, as that instruction's (which rounds activations to bf16, 8 significant bits): each weight
/// row becomes int16 against its largest magnitude (|q| ≤ 32767: every weight within 2^7 of the row's largest is
/// exact, the rest off by at most max|w_row| / 65534), each activation int16 against the largest magnitude of its
/// 32-column block (|q| ≤ 2047: off by at most max|x_block| / 4094, 11 bits where bf16 keeps 8). A block's 32
/// products then sum exactly in int32 (32 · 32767 · 2047 &lt; 2^31) before being scaled into f32 accumulators.
/// Matrices holding inf/NaN and activations holding them take the f32 panels (which propagate them), as do rows and
/// blocks whose largest magnitude is nonzero but below <see cref="SmallestScalable"/> (its inverse would overflow).
/// </para>
/// <para>
/// Layout as the f32 panels: a panel of up to 64 weight rows × <see cref="Int16KBlock"/> columns is packed as
/// [column pair][panel row] int32 (the row's two int16 at columns 2p, 2p + 1), so one 512-bit load holds a column pair
/// for 16 rows; the micro-kernel broadcasts an activation row's pair and adds 16 rows' two products into int32 lanes.
/// </para>
/// </summary>
internal static unsafe partial class FloatGemm
{
    /// <summary>Columns per activation scale, and per exact int32 sum.</summary>
    private const int Int16Block = 32;

    /// <summary>Largest |q| of a weight (against its row) and of an activation (against its block); see the class.</summary>
    private const float WeightLevels = 32767f, ActivationLevels = 2047f;

    /// <summary>Below this (2^-100), a nonzero largest magnitude has no finite inverse scale to spare: such inputs take the f32 panels.</summary>
    private const float SmallestScalable = 7.888609e-31f;

    /// <summary>Columns per packed block: 64 rows × 128 column pairs × 4 bytes = 32 KiB, in L1 as the f32 panels.</summary>
    private const int Int16KBlock = 256;

    /// <summary>Activation rows per micro-tile: 3 × 4 vectors of int32 sums and as many f32 accumulators fill 24 of 32 zmm.</summary>
    private const int Int16TileRows = 3;

    private static bool UseInt16(WeightMatrix w) => w.Type == GgmlType.BF16 && w.Cols % Int16Block == 0 && Use512 && Avx512BW.IsSupported;

    /// <summary>Whether a batch of n rows against w goes through the int16 panels (for finite weights and activations), at bf16-grade precision.</summary>
    internal static bool RoundsToInt16(WeightMatrix w, int n) => Handles(w.Type, n) && UseInt16(w);

    /// <summary>
    /// y = x · wᵀ through the int16 panels when w is a finite BF16 matrix of whole 32-column blocks, x is finite, and the
    /// pool's scratch is free (not called from inside one of its bodies); false, with nothing written, otherwise
    /// (including unscalable weights or activations: see the class).
    /// </summary>
    private static bool TryMultiplyInt16(WeightMatrix w, float* x, float* y, int n, WorkerPool pool)
    {
        if (!UseInt16(w) || pool.IsCurrentThreadInside) return false;
        var rowMax = RowMaxima(w, pool);
        if (rowMax.Length == 0) return false;
        int cols = w.Cols, blocks = cols / Int16Block;
        lock (pool.ScratchLock)
        {
            nuint codeBytes = ((nuint)n * (nuint)cols * 2 + 63) & ~(nuint)63;
            byte* scratch = pool.Scratch(codeBytes + (nuint)n * (nuint)blocks * 4);
            var quantize = new ActivationInt16 { X = x, Codes = (short*)scratch, Scales = (float*)(scratch + codeBytes), Cols = cols };
            ActivationQuantization.RunRows(pool, n, ref quantize);
            if (quantize.Unscalable) return false;
            fixed (float* maxima = rowMax)
            {
                var body = new Int16Body
                {
                    W = w.Data, RowBytes = w.RowBytes, Rows = w.Rows, Cols = cols, N = n,
                    Codes = quantize.Codes, Scales = quantize.Scales, RowMax = maxima, Y = y,
                };
                int alignment = w.Rows >= 4 * Panel512.PanelRows * pool.ThreadCount ? Panel512.PanelRows : 16;
                pool.Run(w.Rows, ref body, alignment);
            }
        }
        return true;
    }

    /// <summary>Finds w's row maxima now, on this thread, where its batches take the int16 panels: at load, so no request pays for the scan.</summary>
    internal static void PrepareInt16(WeightMatrix w)
    {
        if (UseInt16(w)) _ = RowMaxima(w, pool: null);
    }

    /// <summary>
    /// Each row's largest |w| (padded with zeros to whole 16-row vectors), found by one scan (across the pool when one is
    /// given) on first use and kept on the matrix; empty when any weight is inf/NaN or a row's largest is unscalably small.
    /// </summary>
    private static float[] RowMaxima(WeightMatrix w, WorkerPool? pool)
    {
        if (Volatile.Read(ref w.RowMaxima) is { } known) return known;
        var maxima = GC.AllocateArray<float>((w.Rows + 15) & ~15, pinned: true);
        fixed (float* m = maxima)
        {
            var scan = new RowMaximumScan { W = w.Data, RowBytes = w.RowBytes, Cols = w.Cols, Max = m };
            if (pool is null) scan.Invoke(0, w.Rows);
            else pool.Run(w.Rows, ref scan);
            var result = scan.Unscalable ? Array.Empty<float>() : maxima;
            Volatile.Write(ref w.RowMaxima, result); // racing first calls compute the same answer
            return result;
        }
    }

    private struct RowMaximumScan : IRangeBody
    {
        public byte* W;
        public long RowBytes;
        public int Cols;
        public float* Max;
        public bool Unscalable; // only ever set, so concurrent ranges may write it

        public void Invoke(int start, int end)
        {
            var exponent = Vector512.Create((ushort)0x7f80);
            var magnitude = Vector512.Create((ushort)0x7fff);
            for (int r = start; r < end; r++)
            {
                // bf16 magnitudes order as their bit patterns, so the largest is an integer max of the low 15 bits.
                ushort* row = (ushort*)(W + r * RowBytes);
                var largest = Vector512<ushort>.Zero;
                var special = Vector512<ushort>.Zero;
                for (int j = 0; j < Cols; j += 32)
                {
                    var v = Vector512.Load(row + j);
                    largest = Vector512.Max(largest, v & magnitude);
                    special |= Vector512.Equals(v & exponent, exponent);
                }
                var half = Vector256.Max(largest.GetLower(), largest.GetUpper());
                var quarter = Vector128.Max(half.GetLower(), half.GetUpper());
                int bits = 0;
                for (int i = 0; i < 8; i++) bits = Math.Max(bits, quarter[i]);
                float max = BitConverter.Int32BitsToSingle(bits << 16);
                if (special != Vector512<ushort>.Zero || (max != 0f && max < SmallestScalable)) Unscalable = true;
                Max[r] = max;
            }
        }
    }

    /// <summary>Each activation row as int16 codes (row-major, like x) and one scale (max|x| / 2047) per 32-column block.</summary>
    private struct ActivationInt16 : IRangeBody
    {
        public float* X;
        public short* Codes;
        public float* Scales;
        public int Cols;
        public bool Unscalable; // only ever set

        public void Invoke(int start, int end)
        {
            int blocks = Cols / Int16Block;
            var sign = Vector512.Create(-0f);
            var exponent = Vector512.Create(0x7f800000);
            for (int i = start; i < end; i++)
            {
                float* x = X + (long)i * Cols;
                short* q = Codes + (long)i * Cols;
                for (int b = 0; b < blocks; b++, x += Int16Block, q += Int16Block)
                {
                    var lo = Vector512.Load(x);
                    var hi = Vector512.Load(x + 16);
                    var special = Vector512.Equals(lo.AsInt32() & exponent, exponent) | Vector512.Equals(hi.AsInt32() & exponent, exponent);
                    if (special != Vector512<int>.Zero) { Unscalable = true; return; }
                    var largest = Vector512.MaxNative(Vector512.AndNot(lo, sign), Vector512.AndNot(hi, sign));
                    float max = ActivationQuantization.HMax(Vector256.MaxNative(largest.GetLower(), largest.GetUpper()));
                    if (max != 0f && max < SmallestScalable) { Unscalable = true; return; }
                    Scales[(long)i * blocks + b] = max / ActivationLevels;
                    var inverse = Vector512.Create(max == 0f ? 0f : ActivationLevels / max);
                    Vector512.Create(
                        Avx512F.ConvertToVector256Int16(Avx512F.ConvertToVector512Int32(lo * inverse)),
                        Avx512F.ConvertToVector256Int16(Avx512F.ConvertToVector512Int32(hi * inverse))).Store(q);
                }
            }
        }
    }

    private struct Int16Body : IRangeBody
    {
        public byte* W;
        public long RowBytes;
        public int Rows, Cols, N;
        public short* Codes;
        public float* Scales, RowMax, Y;

        public readonly void Invoke(int start, int end)
        {
            const int panelRows = 64;
            int* raw = stackalloc int[Int16KBlock / 2 * panelRows + 16];
            int* pack = (int*)(((nuint)raw + 63) & ~(nuint)63); // [column pair][panel row]
            float* inverse = stackalloc float[panelRows];
            int cols = Cols, blocks = cols / Int16Block;
            // Even column blocks in whole 32-column scale blocks: 896 → 4 × 224 rather than 3 × 256 + 128; even panels.
            int kc = EvenSplit.Piece(cols, Int16KBlock, Int16Block);
            int width = EvenSplit.Piece(end - start, panelRows, 16);
            int tiles = (N + Int16TileRows - 1) / Int16TileRows;
            for (int p = start; p < end; p += width)
            {
                int nr = Math.Min(width, end - p);
                int vectors = (nr + 15) >> 4;
                for (int j = 0; j < nr; j++) inverse[j] = RowMax[p + j] == 0f ? 0f : WeightLevels / RowMax[p + j];
                for (int k0 = 0; k0 < cols; k0 += kc)
                {
                    int len = Math.Min(kc, cols - k0);
                    PackInt16(W + p * RowBytes, RowBytes, nr, vectors * 16, k0, len, inverse, pack);

                    int np = p, nk = k0 + kc;
                    if (nk >= cols) { np = p + width; nk = 0; }
                    var prefetch = new Prefetcher(W + np * RowBytes + (long)nk * 2, RowBytes,
                        np < end ? Math.Min(width, end - np) : 0, Math.Min(kc, cols - nk) * 2);
                    int perTile = prefetch.Lines / tiles + 1;

                    for (int i = 0; i < N; i += Int16TileRows)
                    {
                        int m = Math.Min(Int16TileRows, N - i);
                        TileInt16(m, vectors, pack, len / Int16Block, Codes + (long)i * cols + k0, cols,
                            Scales + (long)i * blocks + k0 / Int16Block, blocks, RowMax + p, Y + (long)i * Rows + p, Rows, nr, k0 > 0);
                        prefetch.Next(perTile);
                    }
                }
            }
        }
    }

    /// <summary>
    /// dst[pair·stride + j] = row j's codes at columns k0 + 2·pair and k0 + 2·pair + 1 (low, high int16) for j &lt; nr,
    /// 0 for nr ≤ j &lt; stride. Full 16-row groups quantize a row's 32 columns in registers and go through the f32
    /// transpose (the pairs are moved as 32-bit lanes); edges one value at a time, rounded the same way.
    /// </summary>
    private static void PackInt16(byte* w, long rowBytes, int nr, int stride, int k0, int len, float* inverse, int* dst)
    {
        for (int g = 0; g < stride; g += 16)
        {
            int rowsHere = Math.Min(16, nr - g);
            if (rowsHere == 16)
            {
                var rows = new Int16Rows { W = w + g * rowBytes, RowBytes = rowBytes, Inverse = inverse + g };
                for (int k = 0; k < len; k += Int16Block)
                {
                    rows.K = k0 + k;
                    Transpose16.Run(ref rows, (float*)(dst + k / 2 * stride + g), stride);
                }
                continue;
            }
            for (int pair = 0; pair < len / 2; pair++)
                for (int j = 0; j < 16; j++)
                {
                    int code = 0;
                    if (j < rowsHere)
                    {
                        var row = (ushort*)(w + (g + j) * rowBytes) + k0 + 2 * pair;
                        code = (ushort)WeightCode(row[0], inverse[g + j]) | WeightCode(row[1], inverse[g + j]) << 16;
                    }
                    dst[pair * stride + g + j] = code;
                }
        }
    }

    /// <summary>One bf16 weight's code, rounded as <c>vcvtps2dq</c> rounds (to nearest, ties to even).</summary>
    private static int WeightCode(ushort bf16, float inverse) => (int)MathF.Round(BitConverter.Int32BitsToSingle(bf16 << 16) * inverse);

    /// <summary>Row i of a 16-row group: its 32 codes from column K, as 16 int32 pairs (returned as f32 bits for the transpose).</summary>
    private struct Int16Rows : IRows16
    {
        public byte* W;
        public long RowBytes;
        public float* Inverse;
        public int K;

        /// <remarks>
        /// Unpacking each 128-bit lane's low and high four bf16 under zeros widens them to f32 out of column order
        /// (columns 8L..8L+3 and 8L+4..8L+7 of lane L), and the saturating pack of the two halves' codes puts them
        /// back in order: seven operations for 32 weights, where widening in order and narrowing with vpmovdw took eleven.
        /// </remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector512<float> Load(int row)
        {
            var raw = Vector512.Load((short*)(W + row * RowBytes) + K);
            var inverse = Vector512.Create(Inverse[row]);
            var lo = Avx512BW.UnpackLow(Vector512<short>.Zero, raw).AsSingle() * inverse;
            var hi = Avx512BW.UnpackHigh(Vector512<short>.Zero, raw).AsSingle() * inverse;
            return Avx512BW.PackSignedSaturate(Avx512F.ConvertToVector512Int32(lo), Avx512F.ConvertToVector512Int32(hi)).AsSingle();
        }
    }

    /// <summary>y[i, j] (+)= row i's dot with weight row j, for i &lt; m, j &lt; nr; a partial last vector through a stack tile.</summary>
    private static void TileInt16(int m, int vectors, int* pack, int blocks, short* codes, int ldc, float* scales, int lds,
        float* rowMax, float* y, int ldy, int nr, bool accumulate)
    {
        if (nr == vectors * 16)
        {
            KernelInt16(m, vectors, pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, accumulate);
            return;
        }
        float* tile = stackalloc float[Int16TileRows * 64];
        KernelInt16(m, vectors, pack, blocks, codes, ldc, scales, lds, rowMax, tile, 64, acc: false);
        StoreTile(tile, 64, m, nr, y, ldy, accumulate);
    }

    private static void KernelInt16(int m, int vectors, int* pack, int blocks, short* codes, int ldc, float* scales, int lds,
        float* rowMax, float* y, int ldy, bool acc)
    {
        switch (vectors)
        {
            case 4: KernelInt16Rows<N4>(m, pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
            case 3: KernelInt16Rows<N3>(m, pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
            case 2: KernelInt16Rows<N2>(m, pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
            default: KernelInt16Rows<N1>(m, pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
        }
    }

    private static void KernelInt16Rows<TV>(int m, int* pack, int blocks, short* codes, int ldc, float* scales, int lds,
        float* rowMax, float* y, int ldy, bool acc) where TV : struct, ICount
    {
        switch (m)
        {
            case 3: MicroInt16<N3, TV>(pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
            case 2: MicroInt16<N2, TV>(pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
            default: MicroInt16<N1, TV>(pack, blocks, codes, ldc, scales, lds, rowMax, y, ldy, acc); break;
        }
    }

    /// <summary>
    /// The register tile: TM (≤ 3) activation rows × TV (≤ 4) vectors of 16 weight rows. Per 32-column block, int32
    /// sums of vpmaddwd products (exact), then one conversion and FMA by the block's activation scale into f32
    /// accumulators; the weight rows' scales (max / 32767) are applied once, at the store.
    /// </summary>
    private static void MicroInt16<TM, TV>(int* pack, int blocks, short* codes, int ldc, float* scales, int lds,
        float* rowMax, float* y, int ldy, bool acc) where TM : struct, ICount where TV : struct, ICount
    {
        int m = TM.N, nv = TV.N, step = 16 * nv;
        var zf = Vector512<float>.Zero;
        Vector512<float> f00 = zf, f01 = zf, f02 = zf, f03 = zf, f10 = zf, f11 = zf, f12 = zf, f13 = zf;
        Vector512<float> f20 = zf, f21 = zf, f22 = zf, f23 = zf;
        int* x0 = (int*)codes, x1 = (int*)(codes + ldc), x2 = (int*)(codes + 2 * ldc);
        for (int b = 0; b < blocks; b++)
        {
            var zi = Vector512<int>.Zero;
            Vector512<int> s00 = zi, s01 = zi, s02 = zi, s03 = zi, s10 = zi, s11 = zi, s12 = zi, s13 = zi;
            Vector512<int> s20 = zi, s21 = zi, s22 = zi, s23 = zi;
            for (int pair = 0; pair < Int16Block / 2; pair++, pack += step, x0++, x1++, x2++)
            {
                var w0 = Vector512.Load(pack).AsInt16();
                var w1 = nv > 1 ? Vector512.Load(pack + 16).AsInt16() : default;
                var w2 = nv > 2 ? Vector512.Load(pack + 32).AsInt16() : default;
                var w3 = nv > 3 ? Vector512.Load(pack + 48).AsInt16() : default;
                RowInt16<TV>(*x0, w0, w1, w2, w3, ref s00, ref s01, ref s02, ref s03);
                if (m > 1) RowInt16<TV>(*x1, w0, w1, w2, w3, ref s10, ref s11, ref s12, ref s13);
                if (m > 2) RowInt16<TV>(*x2, w0, w1, w2, w3, ref s20, ref s21, ref s22, ref s23);
            }
            Scale<TV>(scales[b], s00, s01, s02, s03, ref f00, ref f01, ref f02, ref f03);
            if (m > 1) Scale<TV>(scales[lds + b], s10, s11, s12, s13, ref f10, ref f11, ref f12, ref f13);
            if (m > 2) Scale<TV>(scales[2 * lds + b], s20, s21, s22, s23, ref f20, ref f21, ref f22, ref f23);
        }
        var unit = Vector512.Create(1f / WeightLevels);
        var r0 = Vector512.Load(rowMax) * unit;
        var r1 = nv > 1 ? Vector512.Load(rowMax + 16) * unit : zf;
        var r2 = nv > 2 ? Vector512.Load(rowMax + 32) * unit : zf;
        var r3 = nv > 3 ? Vector512.Load(rowMax + 48) * unit : zf;
        Panel512.Put<TV>(y, f00 * r0, f01 * r1, f02 * r2, f03 * r3, acc);
        if (m > 1) Panel512.Put<TV>(y + ldy, f10 * r0, f11 * r1, f12 * r2, f13 * r3, acc);
        if (m > 2) Panel512.Put<TV>(y + 2 * ldy, f20 * r0, f21 * r1, f22 * r2, f23 * r3, acc);
    }

    /// <summary>One activation row's step: its code pair broadcast against the TV weight vectors, products summed into its int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowInt16<TV>(int pair, Vector512<short> w0, Vector512<short> w1, Vector512<short> w2, Vector512<short> w3,
        ref Vector512<int> s0, ref Vector512<int> s1, ref Vector512<int> s2, ref Vector512<int> s3) where TV : struct, ICount
    {
        var b = Vector512.Create(pair).AsInt16();
        s0 += Avx512BW.MultiplyAddAdjacent(w0, b);
        if (TV.N > 1) s1 += Avx512BW.MultiplyAddAdjacent(w1, b);
        if (TV.N > 2) s2 += Avx512BW.MultiplyAddAdjacent(w2, b);
        if (TV.N > 3) s3 += Avx512BW.MultiplyAddAdjacent(w3, b);
    }

    /// <summary>A block's exact sums into the f32 accumulators, times the block's activation scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale<TV>(float scale, Vector512<int> s0, Vector512<int> s1, Vector512<int> s2, Vector512<int> s3,
        ref Vector512<float> f0, ref Vector512<float> f1, ref Vector512<float> f2, ref Vector512<float> f3) where TV : struct, ICount
    {
        var s = Vector512.Create(scale);
        f0 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s0), s, f0);
        if (TV.N > 1) f1 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s1), s, f1);
        if (TV.N > 2) f2 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s2), s, f2);
        if (TV.N > 3) f3 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s3), s, f3);
    }
}
