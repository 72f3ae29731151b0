using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

/// <summary>Where an 8 × 8 transpose reads its rows: eight 8-float row vectors, row i from <see cref="Load"/>.</summary>
public interface IRows8
{
    Vector256<float> Load(int row);
}

/// <summary>
/// The AVX 8 × 8 float transpose shared by FloatGemm's AVX2 panel packing and the attention lanes, as
/// <see cref="Transpose16"/> is at 512 bits: the row source is a struct type argument, so each caller gets its own
/// inlined loads (widening weights, gathering by pointer).
/// </summary>
public static unsafe class Transpose8
{
    /// <summary>Column c of the eight rows is written to dst + c·stride. Requires Avx.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TRows>(ref TRows rows, float* dst, int stride) where TRows : struct, IRows8
    {
        // unpacklo/hi pairs rows, shufps gathers four, vperm2f128 joins the two 128-bit halves.
        var r0 = rows.Load(0); var r1 = rows.Load(1); var r2 = rows.Load(2); var r3 = rows.Load(3);
        var r4 = rows.Load(4); var r5 = rows.Load(5); var r6 = rows.Load(6); var r7 = rows.Load(7);

        // t: per 128-bit lane L, rows (2a, 2a+1) interleaved at columns 4L, 4L+1 (lo) or 4L+2, 4L+3 (hi)
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);

        // u[c] (u[4 + c]): rows 0-3 (4-7) at column c in lane 0 and 4 + c in lane 1
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Permute2x128(u0, u4, 0x20).Store(dst);
        Avx.Permute2x128(u1, u5, 0x20).Store(dst + stride);
        Avx.Permute2x128(u2, u6, 0x20).Store(dst + 2 * stride);
        Avx.Permute2x128(u3, u7, 0x20).Store(dst + 3 * stride);
        Avx.Permute2x128(u0, u4, 0x31).Store(dst + 4 * stride);
        Avx.Permute2x128(u1, u5, 0x31).Store(dst + 5 * stride);
        Avx.Permute2x128(u2, u6, 0x31).Store(dst + 6 * stride);
        Avx.Permute2x128(u3, u7, 0x31).Store(dst + 7 * stride);
    }
}
