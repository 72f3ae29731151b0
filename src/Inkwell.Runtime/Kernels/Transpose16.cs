using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

/// <summary>Where a 16 × 16 transpose reads its rows: sixteen 16-float row vectors, row i from <see cref="Load"/>.</summary>
public interface IRows16
{
    Vector512<float> Load(int row);
}

/// <summary>
/// The AVX-512 16 × 16 float transpose shared by the weight-panel packing (FloatGemm) and the attention tiles: the
/// row source is a struct type argument, so each caller gets its own inlined loads (widening, gathering by pointer).
/// </summary>
public static unsafe class Transpose16
{
    /// <summary>Column c of the sixteen rows is written to dst + c·stride. Requires Avx512F.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TRows>(ref TRows rows, float* dst, int stride) where TRows : struct, IRows16
    {
        // Unpack pairs of rows, then shufps, then two rounds of 128-bit lane shuffles: 64 shuffles per 256 values.
        var r0 = rows.Load(0); var r1 = rows.Load(1); var r2 = rows.Load(2); var r3 = rows.Load(3);
        var r4 = rows.Load(4); var r5 = rows.Load(5); var r6 = rows.Load(6); var r7 = rows.Load(7);
        var r8 = rows.Load(8); var r9 = rows.Load(9); var r10 = rows.Load(10); var r11 = rows.Load(11);
        var r12 = rows.Load(12); var r13 = rows.Load(13); var r14 = rows.Load(14); var r15 = rows.Load(15);

        // t: per 128-bit lane L, rows (2a, 2a+1) interleaved at columns 4L, 4L+1 (lo) or 4L+2, 4L+3 (hi)
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);

        // u[4q + c]: per lane L, rows 4q..4q+3 at column 4L + c
        var u0 = Avx512F.Shuffle(t0, t2, 0x44); var u1 = Avx512F.Shuffle(t0, t2, 0xEE);
        var u2 = Avx512F.Shuffle(t1, t3, 0x44); var u3 = Avx512F.Shuffle(t1, t3, 0xEE);
        var u4 = Avx512F.Shuffle(t4, t6, 0x44); var u5 = Avx512F.Shuffle(t4, t6, 0xEE);
        var u6 = Avx512F.Shuffle(t5, t7, 0x44); var u7 = Avx512F.Shuffle(t5, t7, 0xEE);
        var u8 = Avx512F.Shuffle(t8, t10, 0x44); var u9 = Avx512F.Shuffle(t8, t10, 0xEE);
        var u10 = Avx512F.Shuffle(t9, t11, 0x44); var u11 = Avx512F.Shuffle(t9, t11, 0xEE);
        var u12 = Avx512F.Shuffle(t12, t14, 0x44); var u13 = Avx512F.Shuffle(t12, t14, 0xEE);
        var u14 = Avx512F.Shuffle(t13, t15, 0x44); var u15 = Avx512F.Shuffle(t13, t15, 0xEE);

        // v[c]: rows 0-3 and 4-7 at columns c and 8 + c; v[4 + c]: the same at 4 + c and 12 + c; v[8..15]: rows 8-15
        var v0 = Avx512F.Shuffle4x128(u0, u4, 0x88); var v4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        var v1 = Avx512F.Shuffle4x128(u1, u5, 0x88); var v5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        var v2 = Avx512F.Shuffle4x128(u2, u6, 0x88); var v6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        var v3 = Avx512F.Shuffle4x128(u3, u7, 0x88); var v7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        var v8 = Avx512F.Shuffle4x128(u8, u12, 0x88); var v12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        var v9 = Avx512F.Shuffle4x128(u9, u13, 0x88); var v13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        var v10 = Avx512F.Shuffle4x128(u10, u14, 0x88); var v14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        var v11 = Avx512F.Shuffle4x128(u11, u15, 0x88); var v15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);

        // column c = all sixteen rows
        Avx512F.Shuffle4x128(v0, v8, 0x88).Store(dst);
        Avx512F.Shuffle4x128(v1, v9, 0x88).Store(dst + stride);
        Avx512F.Shuffle4x128(v2, v10, 0x88).Store(dst + 2 * stride);
        Avx512F.Shuffle4x128(v3, v11, 0x88).Store(dst + 3 * stride);
        Avx512F.Shuffle4x128(v4, v12, 0x88).Store(dst + 4 * stride);
        Avx512F.Shuffle4x128(v5, v13, 0x88).Store(dst + 5 * stride);
        Avx512F.Shuffle4x128(v6, v14, 0x88).Store(dst + 6 * stride);
        Avx512F.Shuffle4x128(v7, v15, 0x88).Store(dst + 7 * stride);
        Avx512F.Shuffle4x128(v0, v8, 0xDD).Store(dst + 8 * stride);
        Avx512F.Shuffle4x128(v1, v9, 0xDD).Store(dst + 9 * stride);
        Avx512F.Shuffle4x128(v2, v10, 0xDD).Store(dst + 10 * stride);
        Avx512F.Shuffle4x128(v3, v11, 0xDD).Store(dst + 11 * stride);
        Avx512F.Shuffle4x128(v4, v12, 0xDD).Store(dst + 12 * stride);
        Avx512F.Shuffle4x128(v5, v13, 0xDD).Store(dst + 13 * stride);
        Avx512F.Shuffle4x128(v6, v14, 0xDD).Store(dst + 14 * stride);
        Avx512F.Shuffle4x128(v7, v15, 0xDD).Store(dst + 15 * stride);
    }
}
