using System.Runtime.Intrinsics;

namespace Inkwell.Models.Decoder;

/// <summary>
/// Rotary position embedding, as llama2.c computes it (float math, per-pair frequency theta^(-2j/d)), with the
/// scalings of later models folded into the per-pair frequencies once (frequency factors, YaRN's ramp) and a
/// magnitude factor on cos and sin. The per-position tables are expanded to one cos and one signed sin per rotated
/// dimension, so a rotation is element-wise: out[a] = v[a]·cos[a] + v[b]·sin[a] for each dimension a and its pair
/// partner b, with -sin at the pair's first dimension. That is bit for bit the textbook v0·cos − v1·sin, v0·sin + v1·cos.
/// </summary>
internal sealed unsafe class Rope
{
    private readonly float[] _frequencies;   // [ropeDim / 2] radians per position of each dimension pair
    private readonly float _positionScale, _magnitude;
    private readonly RopeStyle _style;

    public Rope(ModelConfig c, float theta)
    {
        RopeDim = c.RopeDim;
        HeadDim = c.HeadDim;
        _style = c.RopeStyle;
        _positionScale = c.RopeLinearScale;
        _magnitude = c.RopeAttentionFactor;
        _frequencies = new float[RopeDim / 2];
        for (int j = 0; j < _frequencies.Length; j++)
        {
            float f = 1.0f / MathF.Pow(theta, 2 * j / (float)RopeDim);
            if (c.RopeFrequencyFactors is { } factors) f /= factors[j];
            _frequencies[j] = f;
        }
        if (c.Yarn is { } yarn)
        {
            ApplyYarn(yarn, theta);
            if (yarn.Factor > 1f) _magnitude *= 0.1f * MathF.Log(yarn.Factor) + 1f;
        }
    }

    public int RopeDim { get; }
    public int HeadDim { get; }

    /// <summary>
    /// ggml's rope_yarn with the position factored out: the angle of pair j is pos · f_j · (s·(1 − mix_j) + mix_j),
    /// s = 1/factor, mix_j the ramp between the correction dimensions times the extrapolation factor. The magnitude
    /// gains 0.1·ln(factor) + 1 (llama.cpp's net attention factor, and Hugging Face's default).
    /// </summary>
    private void ApplyYarn(YarnScaling y, float theta)
    {
        float CorrectionDim(float rotations) =>
            RopeDim * MathF.Log(y.OriginalContext / (rotations * 2 * MathF.PI)) / (2 * MathF.Log(theta));
        float low = MathF.Max(0, MathF.Floor(CorrectionDim(y.BetaFast)));
        float high = MathF.Min(RopeDim - 1, MathF.Ceiling(CorrectionDim(y.BetaSlow)));
        float scale = 1f / y.Factor;
        for (int j = 0; j < _frequencies.Length; j++)
        {
            float ramp = 1 - MathF.Min(1, MathF.Max(0, (j - low) / MathF.Max(0.001f, high - low)));
            float mix = ramp * y.ExtrapolationFactor;
            _frequencies[j] *= scale * (1 - mix) + mix;
        }
    }

    /// <summary>Expanded cos/sin [ropeDim] of one position's rotation angles.</summary>
    public void Angles(int position, Span<float> cos, Span<float> sin)
    {
        float pos = position / _positionScale;
        int half = RopeDim / 2;
        for (int j = 0; j < half; j++)
        {
            float angle = pos * _frequencies[j];
            float co = MathF.Cos(angle) * _magnitude, si = MathF.Sin(angle) * _magnitude;
            int a = _style == RopeStyle.Interleaved ? 2 * j : j;
            int b = _style == RopeStyle.Interleaved ? 2 * j + 1 : j + half;
            cos[a] = co;
            cos[b] = co;
            sin[a] = -si;
            sin[b] = si;
        }
    }

    /// <summary>Rotates the first ropeDim dimensions of every head of <paramref name="vec"/> [heads * headDim] in place.</summary>
    public void Rotate(float* vec, int heads, float* cos, float* sin)
    {
        int hd = HeadDim, rd = RopeDim, half = rd / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = vec + h * hd;
            int i = 0;
            if (_style == RopeStyle.Interleaved)
            {
                // Pairs are adjacent: the partner vector is v with neighbours swapped.
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; i + 8 <= rd; i += 8)
                    {
                        var x = Vector256.Load(v + i);
                        var partner = Vector256.Shuffle(x, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6));
                        (x * Vector256.Load(cos + i) + partner * Vector256.Load(sin + i)).Store(v + i);
                    }
                }
                for (; i < rd; i += 2)
                {
                    float v0 = v[i], v1 = v[i + 1];
                    v[i] = v0 * cos[i] + v1 * sin[i];
                    v[i + 1] = v1 * cos[i + 1] + v0 * sin[i + 1];
                }
            }
            else
            {
                // Pairs are (j, j + half): both halves advance together.
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; i + 8 <= half; i += 8)
                    {
                        var lo = Vector256.Load(v + i);
                        var hi = Vector256.Load(v + half + i);
                        (lo * Vector256.Load(cos + i) + hi * Vector256.Load(sin + i)).Store(v + i);
                        (hi * Vector256.Load(cos + half + i) + lo * Vector256.Load(sin + half + i)).Store(v + half + i);
                    }
                }
                for (; i < half; i++)
                {
                    float v0 = v[i], v1 = v[i + half];
                    v[i] = v0 * cos[i] + v1 * sin[i];
                    v[i + half] = v1 * cos[i + half] + v0 * sin[i + half];
                }
            }
        }
    }
}
