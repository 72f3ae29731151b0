using System.Runtime.CompilerServices;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// The portable dot products (ggml's generic vec_dot_*): the reference the SIMD kernels are tested against and
/// the path on machines without AVX2 + FMA.
/// </summary>
[SkipLocalsInit] // stack scratch is written before it is read
internal static unsafe class ScalarDots
{
    internal static float Dot32Scalar(GgmlType t, byte* w, int nb, sbyte* q, float* dx, float* sx)
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

    internal static float DotQ8_0Scalar(byte* w, int nb, sbyte* q, float* dx)
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

    internal static float DotKScalar(byte* unp, float* ds, float* dms, int nsb, sbyte* q, float* dx, short* bsums)
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

    internal static float DotF32Scalar(float* w, float* x, int len)
    {
        float s = 0;
        for (int j = 0; j < len; j++) s += w[j] * x[j];
        return s;
    }
}
