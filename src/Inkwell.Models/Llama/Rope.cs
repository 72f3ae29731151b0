namespace Inkwell.Models.Llama;

/// <summary>Rotary position embedding, as llama2.c computes it (float math, per-pair frequency theta^(-2j/d)).</summary>
internal static class Rope
{
    /// <summary>cos/sin [ropeDim/2] of one position's rotation angles.</summary>
    public static void Angles(LlamaConfig c, int position, Span<float> cos, Span<float> sin)
    {
        float pos = position / c.RopeLinearScale;
        for (int j = 0; j < cos.Length; j++)
        {
            float freq = 1.0f / MathF.Pow(c.RopeTheta, 2 * j / (float)c.RopeDim);
            float angle = pos * freq;
            cos[j] = MathF.Cos(angle);
            sin[j] = MathF.Sin(angle);
        }
    }

    /// <summary>Rotates every head of <paramref name="vec"/> [heads * headDim] in place.</summary>
    public static void Rotate(Span<float> vec, int heads, LlamaConfig c, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int hd = c.HeadDim, half = c.RopeDim / 2;
        for (int h = 0; h < heads; h++)
        {
            var head = vec.Slice(h * hd, hd);
            if (c.RopeStyle == RopeStyle.Interleaved)
            {
                for (int j = 0; j < half; j++)
                {
                    float v0 = head[2 * j], v1 = head[2 * j + 1];
                    head[2 * j] = v0 * cos[j] - v1 * sin[j];
                    head[2 * j + 1] = v0 * sin[j] + v1 * cos[j];
                }
            }
            else
            {
                for (int j = 0; j < half; j++)
                {
                    float v0 = head[j], v1 = head[j + half];
                    head[j] = v0 * cos[j] - v1 * sin[j];
                    head[j + half] = v0 * sin[j] + v1 * cos[j];
                }
            }
        }
    }
}
