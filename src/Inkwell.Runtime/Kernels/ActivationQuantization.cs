using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Activation rows quantized once per matmul call, as ggml quantizes src1 to the weight type's vec_dot_type:
/// 8-bit blocks of 32 for the 32-element weight types (with d·Σq, ggml's Q8_1 sum), 8-bit super-blocks of 256
/// with 16-element sums for the k-quants (ggml's Q8_K).
/// </summary>
internal static unsafe class ActivationQuantization
{
    /// <summary>
    /// Where row i's first block scale lives for 32-element types: scales are interleaved by groups of four rows,
    /// [i / 4][block][i % 4], so the 4-row kernel loads the four rows' scales of a block as one vector.
    /// </summary>
    internal static long Inter(int i, int groups) => (long)(i >> 2) * groups * 4 + (i & 3);

    /// <summary>
    /// Runs a per-row activation quantization body: across the pool from two rows per thread, else on this thread
    /// (a dispatch costs more than quantizing a row or two).
    /// </summary>
    internal static void RunRows<TBody>(WorkerPool pool, int rows, ref TBody body) where TBody : struct, IRangeBody
    {
        if (rows >= 2 * pool.ThreadCount && pool.ThreadCount > 1) pool.Run(rows, ref body);
        else body.Invoke(0, rows);
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
    /// <summary>The largest of the eight lanes.</summary>
    internal static float HMax(Vector256<float> m)
    {
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }
}
