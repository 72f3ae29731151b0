using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Tests.Kernels;

/// <summary>
/// Scalar reference encoders and decoders written from ggml's block definitions (ggml-common.h) and its
/// quantize_row_*_ref / dequantize_row_* loops (ggml-quants.c), kept deliberately literal and independent of the
/// runtime's decoding code.
/// </summary>
internal static class GgmlReference
{
    private static ushort H(float v) => BitConverter.HalfToUInt16Bits((Half)v);
    private static float F(byte[] b, int o) => (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(b, o));
    private static void PutH(byte[] b, int o, float v) => BitConverter.TryWriteBytes(b.AsSpan(o), H(v));

    // ------------------------------------------------------------------ encoders (one row)

    public static byte[] Quantize(GgmlType t, float[] x, Random rng)
    {
        int bs = GgmlTypeInfo.BlockSize(t), bb = GgmlTypeInfo.BlockBytes(t), nb = x.Length / bs;
        var o = new byte[nb * bb];
        switch (t)
        {
            case GgmlType.F32:
                Buffer.BlockCopy(x, 0, o, 0, o.Length);
                return o;
            case GgmlType.F16:
                for (int i = 0; i < x.Length; i++) PutH(o, 2 * i, x[i]);
                return o;
            case GgmlType.BF16:
                for (int i = 0; i < x.Length; i++)
                {
                    uint u = BitConverter.SingleToUInt32Bits(x[i]);
                    u += 0x7fff + ((u >> 16) & 1); // round to nearest even, as ggml_compute_fp32_to_bf16
                    BitConverter.TryWriteBytes(o.AsSpan(2 * i), (ushort)(u >> 16));
                }
                return o;
        }
        for (int b = 0; b < nb; b++)
        {
            var xb = x.AsSpan(b * bs, bs);
            int p = b * bb;
            switch (t)
            {
                case GgmlType.Q8_0:
                {
                    float amax = 0;
                    foreach (var v in xb) amax = Math.Max(amax, Math.Abs(v));
                    float d = amax / 127, id = d != 0 ? 1 / d : 0;
                    PutH(o, p, d);
                    for (int j = 0; j < 32; j++) o[p + 2 + j] = (byte)(sbyte)MathF.Round(xb[j] * id);
                    break;
                }
                case GgmlType.Q4_0:
                case GgmlType.Q5_0:
                {
                    // d = max / -8 (or -16) with max the signed value of largest magnitude.
                    float amax = 0, max = 0;
                    foreach (var v in xb) if (Math.Abs(v) > amax) { amax = Math.Abs(v); max = v; }
                    bool five = t == GgmlType.Q5_0;
                    float d = max / (five ? -16 : -8), id = d != 0 ? 1 / d : 0;
                    PutH(o, p, d);
                    uint qh = 0;
                    int qs = five ? p + 6 : p + 2;
                    for (int j = 0; j < 16; j++)
                    {
                        int x0 = Math.Min(five ? 31 : 15, (int)(sbyte)(xb[j] * id + (five ? 16.5f : 8.5f)));
                        int x1 = Math.Min(five ? 31 : 15, (int)(sbyte)(xb[j + 16] * id + (five ? 16.5f : 8.5f)));
                        o[qs + j] = (byte)((x0 & 15) | ((x1 & 15) << 4));
                        qh |= (uint)((x0 & 0x10) >> 4) << j;
                        qh |= (uint)((x1 & 0x10) >> 4) << (j + 16);
                    }
                    if (five) BitConverter.TryWriteBytes(o.AsSpan(p + 2), qh);
                    break;
                }
                case GgmlType.Q4_1:
                case GgmlType.Q5_1:
                {
                    float min = float.MaxValue, max = float.MinValue;
                    foreach (var v in xb) { min = Math.Min(min, v); max = Math.Max(max, v); }
                    bool five = t == GgmlType.Q5_1;
                    float d = (max - min) / (five ? 31 : 15), id = d != 0 ? 1 / d : 0;
                    PutH(o, p, d);
                    PutH(o, p + 2, min);
                    uint qh = 0;
                    int qs = five ? p + 8 : p + 4;
                    for (int j = 0; j < 16; j++)
                    {
                        int x0 = Math.Min(five ? 31 : 15, (int)(byte)((xb[j] - min) * id + 0.5f));
                        int x1 = Math.Min(five ? 31 : 15, (int)(byte)((xb[j + 16] - min) * id + 0.5f));
                        o[qs + j] = (byte)((x0 & 15) | ((x1 & 15) << 4));
                        qh |= (uint)((x0 & 0x10) >> 4) << j;
                        qh |= (uint)((x1 & 0x10) >> 4) << (j + 16);
                    }
                    if (five) BitConverter.TryWriteBytes(o.AsSpan(p + 4), qh);
                    break;
                }
                default:
                {
                    // k-quants: every bit pattern of codes and packed scales is a valid block, so random bytes with
                    // sane super-block scales exercise all of the decoding (ggml's optimizing quantizers would only
                    // reach a subset of patterns).
                    rng.NextBytes(o.AsSpan(p, bb));
                    float amax = 0;
                    foreach (var v in xb) amax = Math.Max(amax, Math.Abs(v));
                    float d = amax / 2000 + 1e-4f;
                    switch (t)
                    {
                        case GgmlType.Q2_K: PutH(o, p + 80, d * 8); PutH(o, p + 82, d * 4); break;
                        case GgmlType.Q3_K: PutH(o, p + 108, d * 2); break;
                        case GgmlType.Q4_K:
                        case GgmlType.Q5_K: PutH(o, p, d); PutH(o, p + 2, d * 3); break;
                        case GgmlType.Q6_K: PutH(o, p + 208, d / 4); break;
                        default: throw new NotSupportedException(t.ToString());
                    }
                    break;
                }
            }
        }
        return o;
    }

    // ------------------------------------------------------------------ decoders (one row), ggml's loops

    public static float[] Dequantize(GgmlType t, byte[] x, int k)
    {
        var y = new float[k];
        int bb = GgmlTypeInfo.BlockBytes(t), nb = k / GgmlTypeInfo.BlockSize(t);
        switch (t)
        {
            case GgmlType.F32: Buffer.BlockCopy(x, 0, y, 0, k * 4); return y;
            case GgmlType.F16: for (int i = 0; i < k; i++) y[i] = F(x, 2 * i); return y;
            case GgmlType.BF16:
                for (int i = 0; i < k; i++) y[i] = BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(x, 2 * i) << 16);
                return y;
        }
        for (int i = 0; i < nb; i++)
        {
            int p = i * bb;
            switch (t)
            {
                case GgmlType.Q8_0:
                    for (int j = 0; j < 32; j++) y[i * 32 + j] = (sbyte)x[p + 2 + j] * F(x, p);
                    break;
                case GgmlType.Q4_0:
                    for (int j = 0; j < 16; j++)
                    {
                        y[i * 32 + j] = ((x[p + 2 + j] & 0x0F) - 8) * F(x, p);
                        y[i * 32 + j + 16] = ((x[p + 2 + j] >> 4) - 8) * F(x, p);
                    }
                    break;
                case GgmlType.Q4_1:
                    for (int j = 0; j < 16; j++)
                    {
                        y[i * 32 + j] = (x[p + 4 + j] & 0x0F) * F(x, p) + F(x, p + 2);
                        y[i * 32 + j + 16] = (x[p + 4 + j] >> 4) * F(x, p) + F(x, p + 2);
                    }
                    break;
                case GgmlType.Q5_0:
                case GgmlType.Q5_1:
                {
                    bool one = t == GgmlType.Q5_1;
                    uint qh = BitConverter.ToUInt32(x, p + (one ? 4 : 2));
                    int qs = p + (one ? 8 : 6);
                    for (int j = 0; j < 16; j++)
                    {
                        int xh0 = (int)(((qh >> j) << 4) & 0x10);
                        int xh1 = (int)((qh >> (j + 12)) & 0x10);
                        int x0 = (x[qs + j] & 0x0F) | xh0, x1 = (x[qs + j] >> 4) | xh1;
                        if (one)
                        {
                            y[i * 32 + j] = x0 * F(x, p) + F(x, p + 2);
                            y[i * 32 + j + 16] = x1 * F(x, p) + F(x, p + 2);
                        }
                        else
                        {
                            y[i * 32 + j] = (x0 - 16) * F(x, p);
                            y[i * 32 + j + 16] = (x1 - 16) * F(x, p);
                        }
                    }
                    break;
                }
                case GgmlType.Q2_K:
                {
                    float d = F(x, p + 80), min = F(x, p + 82);
                    int q = p + 16, yi = i * 256, isc = 0;
                    for (int n = 0; n < 256; n += 128)
                    {
                        int shift = 0;
                        for (int j = 0; j < 4; ++j)
                        {
                            int sc = x[p + isc++];
                            float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                            for (int l = 0; l < 16; ++l) y[yi++] = dl * ((x[q + l] >> shift) & 3) - ml;
                            sc = x[p + isc++];
                            dl = d * (sc & 0xF); ml = min * (sc >> 4);
                            for (int l = 0; l < 16; ++l) y[yi++] = dl * ((x[q + l + 16] >> shift) & 3) - ml;
                            shift += 2;
                        }
                        q += 32;
                    }
                    break;
                }
                case GgmlType.Q3_K:
                {
                    const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
                    float dAll = F(x, p + 108);
                    var aux = new uint[4];
                    Buffer.BlockCopy(x, p + 96, aux, 0, 12);
                    uint tmp = aux[2];
                    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
                    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
                    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
                    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
                    var scales = new sbyte[16];
                    Buffer.BlockCopy(aux, 0, scales, 0, 16);
                    int q = p + 32, hm = p, yi = i * 256, isc = 0;
                    int m = 1;
                    for (int n = 0; n < 256; n += 128)
                    {
                        int shift = 0;
                        for (int j = 0; j < 4; ++j)
                        {
                            float dl = dAll * (scales[isc++] - 32);
                            for (int l = 0; l < 16; ++l)
                                y[yi++] = dl * ((sbyte)((x[q + l] >> shift) & 3) - ((x[hm + l] & m) != 0 ? 0 : 4));
                            dl = dAll * (scales[isc++] - 32);
                            for (int l = 0; l < 16; ++l)
                                y[yi++] = dl * ((sbyte)((x[q + l + 16] >> shift) & 3) - ((x[hm + l + 16] & m) != 0 ? 0 : 4));
                            shift += 2;
                            m <<= 1;
                        }
                        q += 32;
                    }
                    break;
                }
                case GgmlType.Q4_K:
                case GgmlType.Q5_K:
                {
                    bool five = t == GgmlType.Q5_K;
                    float d = F(x, p), min = F(x, p + 2);
                    int scales = p + 4, ql = p + (five ? 48 : 16), qh = p + 16, yi = i * 256, isc = 0;
                    int u1 = 1, u2 = 2;
                    for (int j = 0; j < 256; j += 64)
                    {
                        GetScaleMinK4(isc + 0, x, scales, out int sc, out int mm);
                        float d1 = d * sc, m1 = min * mm;
                        GetScaleMinK4(isc + 1, x, scales, out sc, out mm);
                        float d2 = d * sc, m2 = min * mm;
                        for (int l = 0; l < 32; ++l)
                            y[yi++] = d1 * ((x[ql + l] & 0xF) + (five && (x[qh + l] & u1) != 0 ? 16 : 0)) - m1;
                        for (int l = 0; l < 32; ++l)
                            y[yi++] = d2 * ((x[ql + l] >> 4) + (five && (x[qh + l] & u2) != 0 ? 16 : 0)) - m2;
                        ql += 32; isc += 2; u1 <<= 2; u2 <<= 2;
                    }
                    break;
                }
                case GgmlType.Q6_K:
                {
                    float d = F(x, p + 208);
                    int ql = p, qh = p + 128, sc = p + 192, yi = i * 256;
                    for (int n = 0; n < 256; n += 128)
                    {
                        for (int l = 0; l < 32; ++l)
                        {
                            int isc = l / 16;
                            int q1 = ((x[ql + l] & 0xF) | (((x[qh + l] >> 0) & 3) << 4)) - 32;
                            int q2 = ((x[ql + l + 32] & 0xF) | (((x[qh + l] >> 2) & 3) << 4)) - 32;
                            int q3 = ((x[ql + l] >> 4) | (((x[qh + l] >> 4) & 3) << 4)) - 32;
                            int q4 = ((x[ql + l + 32] >> 4) | (((x[qh + l] >> 6) & 3) << 4)) - 32;
                            y[yi + l] = d * (sbyte)x[sc + isc] * q1;
                            y[yi + l + 32] = d * (sbyte)x[sc + isc + 2] * q2;
                            y[yi + l + 64] = d * (sbyte)x[sc + isc + 4] * q3;
                            y[yi + l + 96] = d * (sbyte)x[sc + isc + 6] * q4;
                        }
                        yi += 128; ql += 64; qh += 32; sc += 8;
                    }
                    break;
                }
                default: throw new NotSupportedException(t.ToString());
            }
        }
        return y;
    }

    private static void GetScaleMinK4(int j, byte[] x, int q, out int d, out int m)
    {
        if (j < 4) { d = x[q + j] & 63; m = x[q + j + 4] & 63; }
        else
        {
            d = (x[q + j + 4] & 0xF) | ((x[q + j - 4] >> 6) << 4);
            m = (x[q + j + 4] >> 4) | ((x[q + j - 0] >> 6) << 4);
        }
    }
}
