using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

internal static unsafe partial class FloatGemm
{
    /// <summary>
    /// The AVX2 + FMA panels: up to 32 weight rows, packed as strips of 16 rows × len columns, each [k][16], through
    /// 8 × 8 transposes; a 6 × 16 micro-tile keeps 12 accumulators, 2 weight vectors and 1 broadcast in AVX2's 16 ymm
    /// registers. 32 rows × 128 columns (16 KiB) leave room in the 32 KiB L1 of older AVX2 cores.
    /// </summary>
    private readonly struct Panel256 : IPanelKernel
    {
        public static int PanelRows => 32;

        /// <summary>Strip g (rows 16g..16g + 15) at dst + 16g·len: dst[16g·len + 16k + j] = w[16g + j, k0 + k], zeros past nr.</summary>
        public static void Pack<TW>(byte* w, long rowBytes, int nr, int stride, int k0, int len, float* dst) where TW : struct, IFloatLoad
        {
            int fullK = len & ~7;
            for (int g = 0; g < stride; g += 16)
            {
                float* strip = dst + g * len;
                int rowsHere = Math.Min(16, nr - g);
                if (rowsHere == 16)
                {
                    for (int half = 0; half < 16; half += 8)
                    {
                        byte* wh = w + (g + half) * rowBytes;
                        for (int k = 0; k < fullK; k += 8)
                            Transpose8<TW>(wh, rowBytes, k0 + k, strip + k * 16 + half);
                    }
                    for (int k = fullK; k < len; k++)
                        for (int j = 0; j < 16; j++)
                            strip[k * 16 + j] = TW.Load1(w + (g + j) * rowBytes, k0 + k);
                }
                else
                {
                    for (int k = 0; k < len; k++)
                        for (int j = 0; j < 16; j++)
                            strip[k * 16 + j] = j < rowsHere ? TW.Load1(w + (g + j) * rowBytes, k0 + k) : 0f;
                }
            }
        }

        /// <summary>Eight rows × eight columns from column k, written column-major 16 floats apart (one strip row per column).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Transpose8<TW>(byte* w, long rowBytes, int k, float* dst) where TW : struct, IFloatLoad
        {
            var rows = new WeightRows8<TW> { W = w, RowBytes = rowBytes, K = k };
            Kernels.Transpose8.Run(ref rows, dst, 16);
        }

        /// <summary>Row i of an 8-row weight block at column k, widened to f32 by TW.</summary>
        private struct WeightRows8<TW> : IRows8 where TW : struct, IFloatLoad
        {
            public byte* W;
            public long RowBytes;
            public int K;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public readonly Vector256<float> Load(int row) => TW.Load8(W + row * RowBytes, K);
        }

        /// <summary>Strip by strip; a partial last strip goes through a stack tile so the kernel stores whole vectors.</summary>
        public static void Tile(int m, int groups, float* pack, int len, float* x, int ldx, float* y, int ldy, int nr, bool accumulate)
        {
            float* tile = stackalloc float[TileRows * 16];
            for (int g = 0; g < groups; g++)
            {
                float* strip = pack + g * 16 * len;
                int rowsHere = Math.Min(16, nr - 16 * g);
                if (rowsHere == 16)
                {
                    Kernel(m, strip, len, x, ldx, y + 16 * g, ldy, accumulate);
                    continue;
                }
                Kernel(m, strip, len, x, ldx, tile, 16, acc: false);
                StoreTile(tile, 16, m, rowsHere, y + 16 * g, ldy, accumulate);
            }
        }

        private static void Kernel(int m, float* strip, int len, float* x, int ldx, float* y, int ldy, bool acc)
        {
            switch (m)
            {
                case 6: Micro<N6>(strip, len, x, ldx, y, ldy, acc); break;
                case 5: Micro<N5>(strip, len, x, ldx, y, ldy, acc); break;
                case 4: Micro<N4>(strip, len, x, ldx, y, ldy, acc); break;
                case 3: Micro<N3>(strip, len, x, ldx, y, ldy, acc); break;
                case 2: Micro<N2>(strip, len, x, ldx, y, ldy, acc); break;
                default: Micro<N1>(strip, len, x, ldx, y, ldy, acc); break;
            }
        }

        /// <summary>The register tile: TM (≤ 6) activation rows × 16 weight rows (two ymm vectors).</summary>
        private static void Micro<TM>(float* strip, int len, float* x, int ldx, float* y, int ldy, bool acc)
            where TM : struct, ICount
        {
            int m = TM.N;
            var z = Vector256<float>.Zero;
            Vector256<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
            Vector256<float> c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
            float* x0 = x, x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx, x4 = x + 4 * ldx, x5 = x + 5 * ldx;
            for (int k = 0; k < len; k++, strip += 16)
            {
                var w0 = Vector256.Load(strip);
                var w1 = Vector256.Load(strip + 8);
                Row(x0[k], w0, w1, ref c00, ref c01);
                if (m > 1) Row(x1[k], w0, w1, ref c10, ref c11);
                if (m > 2) Row(x2[k], w0, w1, ref c20, ref c21);
                if (m > 3) Row(x3[k], w0, w1, ref c30, ref c31);
                if (m > 4) Row(x4[k], w0, w1, ref c40, ref c41);
                if (m > 5) Row(x5[k], w0, w1, ref c50, ref c51);
            }
            Put(y, c00, c01, acc);
            if (m > 1) Put(y + ldy, c10, c11, acc);
            if (m > 2) Put(y + 2 * ldy, c20, c21, acc);
            if (m > 3) Put(y + 3 * ldy, c30, c31, acc);
            if (m > 4) Put(y + 4 * ldy, c40, c41, acc);
            if (m > 5) Put(y + 5 * ldy, c50, c51, acc);
        }

        /// <summary>One activation row's step: its value at k broadcast against the two weight vectors, into its accumulators.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(float xk, Vector256<float> w0, Vector256<float> w1, ref Vector256<float> c0, ref Vector256<float> c1)
        {
            var b = Vector256.Create(xk);
            c0 = Vector256.FusedMultiplyAdd(w0, b, c0);
            c1 = Vector256.FusedMultiplyAdd(w1, b, c1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* y, Vector256<float> a, Vector256<float> b, bool acc)
        {
            if (acc)
            {
                a += Vector256.Load(y);
                b += Vector256.Load(y + 8);
            }
            a.Store(y);
            b.Store(y + 8);
        }
    }
}
