using System.Numerics.Tensors;

namespace Inkwell.Models;

/// <summary>
/// A model's raw outputs for a token sequence, the way llama.cpp's reference tool (shared/tools/llama-logits.cpp)
/// produces them: the logits of every position with the sequence evaluated as one batch from position 0, then a
/// greedy continuation by argmax, one decode call per token.
/// </summary>
public static class TokenLogits
{
    public static (float[][] Logits, int[] Greedy) Evaluate(ICausalLM model, IReadOnlyList<int> tokens, int greedyCount)
    {
        if (tokens.Count == 0) throw new ArgumentException("no tokens to evaluate");
        if (greedyCount < 0) throw new ArgumentOutOfRangeException(nameof(greedyCount), "the greedy count must not be negative");
        int vocab = model.Config.VocabSize;
        int positions = tokens.Count + Math.Max(0, greedyCount - 1);
        if (positions > model.Config.ContextLength)
            throw new ArgumentException($"{tokens.Count} tokens and {greedyCount} greedy steps exceed the context length {model.Config.ContextLength}");
        var (kv, table) = model.CreateSequenceCache(positions);

        var all = model.Forward([new SequenceChunk(tokens.ToArray(), 0, table, LogitsWanted.All)], kv);
        var logits = new float[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++) logits[i] = all.Slice(i * vocab, vocab).ToArray();

        var greedy = new int[greedyCount];
        ReadOnlySpan<float> last = logits[^1];
        var one = new int[1];
        var step = new SequenceChunk[1];
        for (int g = 0; g < greedyCount; g++)
        {
            greedy[g] = TensorPrimitives.IndexOfMax(last);
            if (g + 1 == greedyCount) break;
            one[0] = greedy[g];
            step[0] = new SequenceChunk(one, tokens.Count + g, table);
            last = model.Forward(step, kv);
        }
        return (logits, greedy);
    }

    /// <summary>Normalized mean squared error Σ(a − b)² / Σb² of <paramref name="actual"/> against <paramref name="reference"/>.</summary>
    public static double NormalizedMse(IReadOnlyList<float[]> actual, IReadOnlyList<float[]> reference)
    {
        if (actual.Count != reference.Count) throw new ArgumentException($"{actual.Count} rows against {reference.Count}");
        double error = 0, norm = 0;
        for (int i = 0; i < actual.Count; i++)
        {
            if (actual[i].Length != reference[i].Length) throw new ArgumentException($"row {i}: {actual[i].Length} values against {reference[i].Length}");
            for (int j = 0; j < actual[i].Length; j++)
            {
                double d = actual[i][j] - (double)reference[i][j];
                error += d * d;
                norm += (double)reference[i][j] * reference[i][j];
            }
        }
        return error / norm;
    }
}
