using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// SIMD (AVX2, VNNI where present) dot products of one quantized weight row against 1..4 quantized activation
/// rows, per block type (ggml's arch/x86 vec_dot_*); the portable versions are in <see cref="ScalarDots"/>.
/// </summary>
internal static unsafe class BlockDots
{
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
    internal static void Dot32<TW, TN>(byte* w, int nb, sbyte* q, float* dx, float* sx, int qStride, float* res) where TW : struct, Quant.IBlock32 where TN : struct, ICount
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
    internal static float Dot32x1<TW>(byte* w, int nb, sbyte* q, float* dx, float* sx) where TW : struct, Quant.IBlock32
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
    /// d_w·d_x (the four rows' d_x are adjacent, see <see cref="ActivationQuantization.Inter"/>) and the offset term cost one
    /// instruction each per block instead of one per block and row.
    /// </summary>
    internal static void Dot32x4<TW>(byte* w, int nb, sbyte* q, int qStride, float* dx, float* sx, float* res)
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
    internal static void DotQ8_0x4(byte* w, int nb, sbyte* q, int qStride, float* dx, float* res)
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

    /// <summary>Q8_0 weights are signed, so maddubs takes |w| and moves w's sign onto the activation.</summary>
    internal static void DotQ8_0<TN>(byte* w, int nb, sbyte* q, float* dx, int qStride, float* res)
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
    internal static float DotQ8_0x1(byte* w, int nb, sbyte* q, float* dx)
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
    internal static float DotQ4_K(byte* w, int nsb, sbyte* q, float* dx, short* bsums)
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
    internal static float DotQ6_K(byte* w, int nsb, sbyte* q, float* dx, short* bsums)
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
    internal static float DotKDirect<TK>(byte* w, int nsb, sbyte* q, float* dx, short* bsums) where TK : struct, Quant.IKBlock
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

    /// <summary>
    /// A decoded k-quant row against TN activation rows. Per super-block: maddubs(u, q) over 32 codes gives 16 pair
    /// sums, madd with the two group scales (group 2g's ×8 in the low lane, 2g+1's in the high lane, built once
    /// per g by a dword broadcast and a byte shuffle) folds them to 8 int32; the min term is one madd of the 16
    /// mins with the activation's 16 group sums.
    /// </summary>
    internal static void DotK<TN>(byte* unp, float* ds, float* dms, int nsb, sbyte* q, float* dx, short* bsums,
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
}
