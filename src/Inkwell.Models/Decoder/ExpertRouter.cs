using System.Numerics.Tensors;

namespace Inkwell.Models.Decoder;

/// <summary>Top-k expert selection and weighting for one row of router logits, as llama.cpp's build_moe_ffn does it.</summary>
public static class ExpertRouter
{
    /// <summary>The smallest sum llama.cpp divides by when normalizing (the least normal f16).</summary>
    public const float MinWeightSum = 6.103515625e-5f;

    /// <summary>
    /// Fills <paramref name="selected"/> with the k best experts (best first) and <paramref name="weights"/> with their
    /// weights. <paramref name="logits"/> is overwritten with the gating probabilities.
    /// </summary>
    public static void Route(Span<float> logits, ExpertsConfig config, Span<int> selected, Span<float> weights)
    {
        switch (config.Gating)
        {
            case ExpertGating.Softmax:
                StableSoftMax(logits);
                break;
            case ExpertGating.Sigmoid:
                TensorPrimitives.Sigmoid(logits, logits);
                break;
            case ExpertGating.SoftmaxOverSelected:
                break;
            default:
                throw new NotSupportedException($"expert gating {config.Gating}");
        }

        // k passes of arg-max: k is small (1 to 8) and experts few hundred at most, so this beats a sort.
        for (int j = 0; j < selected.Length; j++)
        {
            int best = -1;
            float bestValue = float.NegativeInfinity;
            for (int e = 0; e < logits.Length; e++)
            {
                float v = logits[e];
                if ((v > bestValue || best < 0) && !selected[..j].Contains(e))
                {
                    best = e;
                    bestValue = v;
                }
            }
            selected[j] = best;
            weights[j] = bestValue;
        }

        if (config.Gating == ExpertGating.SoftmaxOverSelected) StableSoftMax(weights);
        if (config.NormalizeWeights) TensorPrimitives.Divide(weights, MathF.Max(TensorPrimitives.Sum(weights), MinWeightSum), weights);
        if (config.WeightScale != 1f) TensorPrimitives.Multiply(weights, config.WeightScale, weights);
    }

    // TensorPrimitives.SoftMax exponentiates as is; shifting by the maximum first keeps large logits finite.
    private static void StableSoftMax(Span<float> v)
    {
        TensorPrimitives.Subtract(v, TensorPrimitives.Max(v), v);
        TensorPrimitives.SoftMax(v, v);
    }
}
