using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Dot products of f32 weight rows (F16/BF16 widened first, see <see cref="HalfConversion"/>) against 1..4
/// activation rows: the unbatched float path; batches go to <see cref="FloatGemm"/> (AVX-512 or AVX2 + FMA).
/// </summary>
internal static unsafe class FloatDots
{
    /// <summary>
    /// acc[k·accStride + r] += w_r · x_k for four weight rows w_r = w + r·wStride and TN activation rows
    /// x_k = x + k·xStride: a 4×TN register tile of 512-bit accumulators.
    /// </summary>
    internal static void DotF32x4<TN>(float* w, int wStride, int len, float* x, int xStride, float* acc, int accStride)
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
                    acc[k * accStride + r] += ScalarDots.DotF32Scalar(w + r * wStride + j, x + k * xStride + j, len - j);
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

    /// <summary>acc[k·accStride] += w · x_k for TN activation rows x_k = x + k·stride; two accumulators per row hide FMA latency.</summary>
    internal static void DotF32<TN>(float* w, int len, float* x, int stride, float* acc, int accStride) where TN : struct, ICount
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
        acc[0] += Vector256.Sum(a0 + b0) + ScalarDots.DotF32Scalar(w + j, x + j, len - j);
        if (n > 1) acc[accStride] += Vector256.Sum(a1 + b1) + ScalarDots.DotF32Scalar(w + j, x + stride + j, len - j);
        if (n > 2) acc[2 * accStride] += Vector256.Sum(a2 + b2) + ScalarDots.DotF32Scalar(w + j, x + 2 * stride + j, len - j);
        if (n > 3) acc[3 * accStride] += Vector256.Sum(a3 + b3) + ScalarDots.DotF32Scalar(w + j, x + 3 * stride + j, len - j);
    }
}
