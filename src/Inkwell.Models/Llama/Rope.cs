using System.Runtime.Intrinsics;

namespace Inkwell.Models.Llama;

/// <summary>
/// Rotary position embedding, as llama2.c computes it (float math, per-pair frequency theta^(-2j/d)).
/// The per-position tables are expanded to one cos and one signed sin per rotated dimension, so a rotation is
/// element-wise: out[a] = v[a]·cos[a] + v[b]·sin[a] for each dimension a and its pair partner b, with -sin at the
/// pair's first dimension. That is bit for bit the textbook v0·cos − v1·sin, v0·sin + v1·cos.
/// </summary>
internal static unsafe class Rope
{
    /// <summary>Inverse frequency of each dimension pair [ropeDim/2]; depends only on the config.</summary>
    public static float[] Frequencies(LlamaConfig c)
    {
        var freq = new float[c.RopeDim / 2];
        for (int j = 0; j < freq.Length; j++) freq[j] = 1.0f / MathF.Pow(c.RopeTheta, 2 * j / (float)c.RopeDim);
        return freq;
    }

    /// <summary>Expanded cos/sin [ropeDim] of one position's rotation angles.</summary>
    public static void Angles(LlamaConfig c, ReadOnlySpan<float> frequencies, int position, Span<float> cos, Span<float> sin)
    {
        float pos = position / c.RopeLinearScale;
        int half = c.RopeDim / 2;
        for (int j = 0; j < half; j++)
        {
            float angle = pos * frequencies[j];
            float co = MathF.Cos(angle), si = MathF.Sin(angle);
            int a = c.RopeStyle == RopeStyle.Interleaved ? 2 * j : j;
            int b = c.RopeStyle == RopeStyle.Interleaved ? 2 * j + 1 : j + half;
            cos[a] = co;
            cos[b] = co;
            sin[a] = -si;
            sin[b] = si;
        }
    }

    /// <summary>Rotates the first ropeDim dimensions of every head of <paramref name="vec"/> [heads * headDim] in place.</summary>
    public static void Rotate(float* vec, int heads, LlamaConfig c, float* cos, float* sin)
    {
        int hd = c.HeadDim, rd = c.RopeDim, half = rd / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = vec + h * hd;
            int i = 0;
            if (c.RopeStyle == RopeStyle.Interleaved)
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
