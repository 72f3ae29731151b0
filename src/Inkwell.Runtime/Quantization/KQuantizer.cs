namespace Inkwell.Runtime.Quantization;

/// <summary>
/// The k-quant reference encoders (quantize_row_q4_K_ref, quantize_row_q6_K_ref) and their helpers
/// (make_qkx2_quants, make_qx_quants, nearest_int) from ggml/src/ggml-quants.c, line for line in float arithmetic.
/// </summary>
internal static class KQuantizer
{
    private const int QkK = 256;
    private const float GroupMaxEps = 1e-15f;

    /// <summary>block_q4_K: d (f16), dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of 4-bit codes.</summary>
    public static void QuantizeQ4_K(ReadOnlySpan<float> source, Span<byte> destination)
    {
        Span<byte> codes = stackalloc byte[QkK];
        Span<byte> aux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[QkK / 32];
        Span<float> scales = stackalloc float[QkK / 32];
        for (int i = 0; i < source.Length / QkK; i++)
        {
            var x = source.Slice(i * QkK, QkK);
            var y = destination.Slice(i * 144, 144);
            y.Clear();
            var packedScales = y.Slice(4, 12);
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < QkK / 32; j++)
            {
                var group = x.Slice(32 * j, 32);
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += group[l] * group[l];
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(group[l]);
                scales[j] = MakeQkx2Quants(32, 15, group, weights, codes.Slice(32 * j, 32), out mins[j], aux, -1f, 0.1f, 20);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            float inverseScale = maxScale > 0 ? 63f / maxScale : 0f;
            float inverseMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < QkK / 32; j++)
            {
                byte ls = Math.Min((byte)63, (byte)NearestInt(inverseScale * scales[j]));
                byte lm = Math.Min((byte)63, (byte)NearestInt(inverseMin * mins[j]));
                if (j < 4)
                {
                    packedScales[j] = ls;
                    packedScales[j + 4] = lm;
                }
                else
                {
                    packedScales[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                    packedScales[j - 4] |= (byte)((ls >> 4) << 6);
                    packedScales[j] |= (byte)((lm >> 4) << 6);
                }
            }
            ReferenceQuantizer.WriteHalf(y, maxScale / 63f);
            ReferenceQuantizer.WriteHalf(y.Slice(2), maxMin / 63f);
            float superScale = ReferenceQuantizer.ReadHalf(y);
            float superMin = ReferenceQuantizer.ReadHalf(y.Slice(2));
            for (int j = 0; j < QkK / 32; j++)
            {
                ScaleMinK4(j, packedScales, out byte sc, out byte m);
                float d = superScale * sc;
                if (d == 0f) continue;
                float dm = superMin * m;
                for (int ii = 0; ii < 32; ii++)
                {
                    int l = NearestInt((x[32 * j + ii] + dm) / d);
                    codes[32 * j + ii] = (byte)Math.Max(0, Math.Min(15, l));
                }
            }
            var q = y.Slice(16, 128);
            for (int j = 0; j < QkK; j += 64)
            {
                for (int l = 0; l < 32; l++) q[l] = (byte)(codes[j + l] | (codes[j + l + 32] << 4));
                q = q.Slice(32);
            }
        }
    }

    /// <summary>block_q6_K: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 signed 8-bit scales, d (f16).</summary>
    public static void QuantizeQ6_K(ReadOnlySpan<float> source, Span<byte> destination)
    {
        Span<sbyte> codes = stackalloc sbyte[QkK];
        Span<float> scales = stackalloc float[QkK / 16];
        for (int i = 0; i < source.Length / QkK; i++)
        {
            var x = source.Slice(i * QkK, QkK);
            var y = destination.Slice(i * 210, 210);
            y.Clear();
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < QkK / 16; ib++)
            {
                float scale = MakeQxQuants(16, 32, x.Slice(16 * ib, 16), codes.Slice(16 * ib, 16));
                scales[ib] = scale;
                float absScale = MathF.Abs(scale);
                if (absScale > maxAbsScale)
                {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < GroupMaxEps) continue; // all zero, d = 0

            var blockScales = y.Slice(192, 16);
            float iscale = -128f / maxScale;
            ReferenceQuantizer.WriteHalf(y.Slice(208), 1 / iscale);
            for (int ib = 0; ib < QkK / 16; ib++) blockScales[ib] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
            float superScale = ReferenceQuantizer.ReadHalf(y.Slice(208));
            for (int j = 0; j < QkK / 16; j++)
            {
                float d = superScale * (sbyte)blockScales[j];
                if (d == 0f) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt(x[16 * j + ii] / d);
                    codes[16 * j + ii] = (sbyte)(Math.Max(-32, Math.Min(31, l)) + 32);
                }
            }
            var ql = y.Slice(0, 128);
            var qh = y.Slice(128, 64);
            for (int j = 0; j < QkK; j += 128)
            {
                for (int l = 0; l < 32; l++)
                {
                    int q1 = codes[j + l] & 0xF, q2 = codes[j + l + 32] & 0xF, q3 = codes[j + l + 64] & 0xF, q4 = codes[j + l + 96] & 0xF;
                    ql[l] = (byte)(q1 | (q3 << 4));
                    ql[l + 32] = (byte)(q2 | (q4 << 4));
                    qh[l] = (byte)((codes[j + l] >> 4) | ((codes[j + l + 32] >> 4) << 2) | ((codes[j + l + 64] >> 4) << 4) | ((codes[j + l + 96] >> 4) << 6));
                }
                ql = ql.Slice(64);
                qh = qh.Slice(32);
            }
        }
    }

    /// <summary>nearest_int: round half to even through the float magic-number trick (valid for |x| &lt;= 4194303).</summary>
    private static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        int bits = BitConverter.SingleToInt32Bits(shifted);
        return (bits & 0x007fffff) - 0x00400000;
    }

    /// <summary>get_scale_min_k4: the j-th 6-bit scale and min of a q4_K/q5_K block.</summary>
    private static void ScaleMinK4(int j, ReadOnlySpan<byte> q, out byte d, out byte m)
    {
        if (j < 4)
        {
            d = (byte)(q[j] & 63);
            m = (byte)(q[j + 4] & 63);
        }
        else
        {
            d = (byte)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
            m = (byte)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
        }
    }

    /// <summary>make_qkx2_quants with use_mad = false: an asymmetric (scale, min) search over nstep candidate scales.</summary>
    private static float MakeQkx2Quants(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> codes,
        out float theMin, Span<byte> aux, float rmin, float rdelta, int nstep)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            codes.Slice(0, n).Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            codes[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * codes[i] + min - x[i];
            diff *= diff;
            bestError += weights[i] * diff;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                aux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * aux[i] + thisMin - x[i];
                    diff *= diff;
                    error += weights[i] * diff;
                }
                if (error < bestError)
                {
                    aux.Slice(0, n).CopyTo(codes);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>make_qx_quants with rmse_type = 1 and no importance weights (w = x²): a symmetric scale search.</summary>
    private static float MakeQxQuants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> codes)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax)
            {
                amax = ax;
                max = x[i];
            }
        }
        if (amax < GroupMaxEps)
        {
            codes.Slice(0, n).Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLx = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            codes[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLx += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLx / sumL2 : 0.0f;
        float best = scale * sumLx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLx = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumLx += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLx * sumLx > best * sumL2)
            {
                for (int i = 0; i < n; i++)
                    codes[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumLx / sumL2;
                best = scale * sumLx;
            }
        }
        return scale;
    }
}
