using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Inkwell.Runtime.Attention;

namespace Inkwell.Engine.Sampling;

/// <summary>
/// Turns one processed row of logits into a token, on plain float spans so it is testable without a model. The
/// logits processors (<see cref="LogitsPipeline"/>: penalties, grammar, EOS suppression) have already run; the sampler
/// applies TGI's warpers: temperature, top-k, top-p, typical-p. The scratch buffers are the caller's (one Sampler
/// per engine thread), so sampling allocates nothing per token.
/// </summary>
public sealed class Sampler
{
    private float[] _probs = [];
    private int[] _order = [];
    private float[] _keys = [];
    private double[] _typicalKeys = [];

    /// <summary>Picks a token; returns it and its log-probability under the final (warped) distribution.</summary>
    public (int Token, float LogProb) Sample(ReadOnlySpan<float> logits, SamplingParameters p, ref SplitMix64 rng)
    {
        if (!p.IsSampling)
        {
            int best = TensorPrimitives.IndexOfMax(logits);
            return (best, LogSoftmaxAt(logits, best));
        }

        var probs = Probabilities(logits, p);
        var order = _order.AsSpan(0, logits.Length);
        if (!HasCandidateCut(p))
        {
            // Plain temperature sampling needs no ordering: one cumulative scan over the vocabulary.
            double u = rng.NextDouble();
            double acc = 0;
            int pick = TensorPrimitives.IndexOfMax(probs);
            for (int i = 0; i < probs.Length; i++)
            {
                acc += probs[i];
                if (acc > u) { pick = i; break; }
            }
            return (pick, MathF.Log(probs[pick]));
        }

        int n = Candidates(probs, order, p);

        float total = 0f;
        for (int i = 0; i < n; i++) total += probs[order[i]];
        double target = rng.NextDouble() * total;
        double cumulative = 0;
        int chosen = order[n - 1];
        for (int i = 0; i < n; i++)
        {
            cumulative += probs[order[i]];
            if (cumulative > target) { chosen = order[i]; break; }
        }
        return (chosen, MathF.Log(probs[chosen] / total));
    }

    /// <summary>
    /// Writes the distribution <see cref="Sample"/> draws from into <paramref name="distribution"/> (the warped
    /// probabilities, zero outside the kept candidates), for speculative verification, which needs every token's
    /// probability. Greedy parameters give a point mass on the arg-max.
    /// </summary>
    public void Distribution(ReadOnlySpan<float> logits, SamplingParameters p, Span<float> distribution)
    {
        var target = distribution[..logits.Length];
        if (!p.IsSampling)
        {
            target.Clear();
            target[TensorPrimitives.IndexOfMax(logits)] = 1f;
            return;
        }
        var probs = Probabilities(logits, p);
        if (!HasCandidateCut(p))
        {
            probs.CopyTo(target);
            return;
        }
        var order = _order.AsSpan(0, logits.Length);
        int n = Candidates(probs, order, p);
        float total = 0f;
        for (int i = 0; i < n; i++) total += probs[order[i]];
        target.Clear();
        for (int i = 0; i < n; i++) target[order[i]] = probs[order[i]] / total;
    }

    /// <summary>Draws a token from a distribution (as written by <see cref="Distribution"/>) with one uniform number.</summary>
    public static int Draw(ReadOnlySpan<float> distribution, ref SplitMix64 rng)
    {
        double target = rng.NextDouble() * TensorPrimitives.Sum(distribution);
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < distribution.Length; i++)
        {
            if (distribution[i] <= 0f) continue;
            cumulative += distribution[i];
            last = i;
            if (cumulative > target) return i;
        }
        return last >= 0 ? last : throw new ArgumentException("the distribution has no mass", nameof(distribution));
    }

    private static bool HasCandidateCut(SamplingParameters p) => p.TopK > 0 || p.TopP < 1f || p.TypicalP < 1f;

    /// <summary>Softmax of logits / temperature into the scratch buffer.</summary>
    private Span<float> Probabilities(ReadOnlySpan<float> logits, SamplingParameters p)
    {
        EnsureScratch(logits.Length);
        var probs = _probs.AsSpan(0, logits.Length);
        float temperature = p.Temperature > 0f ? p.Temperature : 1f;
        // Stable softmax: TensorPrimitives.SoftMax does not subtract the max, so large logits would overflow. The max
        // goes before the temperature, as the top logit / a tiny temperature is infinite (and infinity - infinity NaN).
        TensorPrimitives.Subtract(logits, TensorPrimitives.Max(logits), probs);
        TensorPrimitives.Divide(probs, temperature, probs);
        TensorPrimitives.Exp(probs, probs);
        TensorPrimitives.Divide(probs, TensorPrimitives.Sum(probs), probs);
        return probs;
    }

    /// <summary>
    /// Candidates sorted by probability, cut by top-k, top-p and typical-p, into order[0..n); returns n. Only as many
    /// as needed are selected: k for top-k; for top-p a growing prefix until it holds mass p (exact, without sorting
    /// the whole vocabulary).
    /// </summary>
    private int Candidates(ReadOnlySpan<float> probs, Span<int> order, SamplingParameters p)
    {
        int n;
        if (p.TopK > 0 || p.TypicalP < 1f)
        {
            n = SelectTop(probs, order, p.TopK > 0 ? Math.Min(p.TopK, probs.Length) : probs.Length);
        }
        else
        {
            int k = Math.Min(64, probs.Length);
            while (true)
            {
                n = SelectTop(probs, order, k);
                float mass = 0f;
                for (int i = 0; i < n; i++) mass += probs[order[i]];
                if (mass >= p.TopP || k == probs.Length) break;
                k = Math.Min(k * 4, probs.Length);
            }
        }
        n = TopP(probs, order, n, p.TopP);
        return Typical(probs, order, n, p.TypicalP);
    }

    /// <summary>Log-softmax of one entry, for greedy rows and for reporting logprobs.</summary>
    public static float LogSoftmaxAt(ReadOnlySpan<float> logits, int index)
    {
        float max = TensorPrimitives.Max(logits);
        return (float)(logits[index] - max - Math.Log(SumOfExp(logits, max)));
    }

    /// <summary>log(sum(exp(logits))), stable against large values.</summary>
    public static float LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        return (float)(max + Math.Log(SumOfExp(logits, max)));
    }

    /// <summary>Columns summed in float lanes before the running total (in double) takes them.</summary>
    private const int SumChunk = 1024;

    /// <summary>
    /// Σ exp(l - max) over a row: once per generated token over the whole vocabulary (its log-probability), so in
    /// vectors (<see cref="VectorExp"/>, within 2 ulp of MathF.Exp), summed in float per chunk of
    /// <see cref="SumChunk"/> columns and across chunks in double. A scalar double exp per column cost 0.5-0.8 ms per
    /// token at a 152k vocabulary, a few percent of a small model's decode step.
    /// </summary>
    private static double SumOfExp(ReadOnlySpan<float> logits, float max)
    {
        double sum = 0;
        int i = 0;
        ref float first = ref MemoryMarshal.GetReference(logits);
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(max);
            while (i + Vector512<float>.Count <= logits.Length)
            {
                var acc = Vector512<float>.Zero;
                int end = Math.Min(logits.Length, i + SumChunk) - Vector512<float>.Count;
                for (; i <= end; i += Vector512<float>.Count) acc += VectorExp.Exp(Vector512.LoadUnsafe(ref first, (nuint)i) - m);
                sum += Vector512.Sum(acc);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(max);
            while (i + Vector256<float>.Count <= logits.Length)
            {
                var acc = Vector256<float>.Zero;
                int end = Math.Min(logits.Length, i + SumChunk) - Vector256<float>.Count;
                for (; i <= end; i += Vector256<float>.Count) acc += VectorExp.Exp(Vector256.LoadUnsafe(ref first, (nuint)i) - m);
                sum += Vector256.Sum(acc);
            }
        }
        for (; i < logits.Length; i++) sum += Math.Exp(logits[i] - max);
        return sum;
    }

    private void EnsureScratch(int n)
    {
        if (_probs.Length < n)
        {
            _probs = new float[n];
            _order = new int[n];
            _keys = new float[n];
        }
    }

    /// <summary>
    /// Puts the k most probable token ids into order[0..k), sorted by descending probability: a min-heap of size k over
    /// the vocabulary (O(V log k)), then a sort of the k survivors.
    /// </summary>
    private int SelectTop(ReadOnlySpan<float> probs, Span<int> order, int k)
    {
        var heap = order[..k];
        for (int i = 0; i < k; i++) heap[i] = i;
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, probs, i);
        for (int i = k; i < probs.Length; i++)
        {
            if (probs[i] <= probs[heap[0]]) continue;
            heap[0] = i;
            SiftDown(heap, probs, 0);
        }
        var keys = _keys.AsSpan(0, k);
        for (int i = 0; i < k; i++) keys[i] = -probs[heap[i]];
        keys.Sort(heap);
        return k;
    }

    private static void SiftDown(Span<int> heap, ReadOnlySpan<float> probs, int i)
    {
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, smallest = i;
            if (l < heap.Length && probs[heap[l]] < probs[heap[smallest]]) smallest = l;
            if (r < heap.Length && probs[heap[r]] < probs[heap[smallest]]) smallest = r;
            if (smallest == i) return;
            (heap[i], heap[smallest]) = (heap[smallest], heap[i]);
            i = smallest;
        }
    }

    private static int TopP(ReadOnlySpan<float> probs, ReadOnlySpan<int> order, int n, float topP)
    {
        if (topP >= 1f) return n;
        float total = 0f;
        for (int i = 0; i < n; i++) total += probs[order[i]];
        float cumulative = 0f;
        for (int i = 0; i < n; i++)
        {
            cumulative += probs[order[i]] / total;
            if (cumulative >= topP) return i + 1;
        }
        return n;
    }

    /// <summary>Typical sampling (Meister et al.): keep tokens whose surprise is closest to the entropy, up to mass p.</summary>
    private int Typical(ReadOnlySpan<float> probs, Span<int> order, int n, float typicalP)
    {
        if (typicalP >= 1f) return n;
        float total = 0f;
        for (int i = 0; i < n; i++) total += probs[order[i]];
        double entropy = 0;
        for (int i = 0; i < n; i++)
        {
            double q = probs[order[i]] / total;
            if (q > 0) entropy -= q * Math.Log(q);
        }
        if (_typicalKeys.Length < n) _typicalKeys = new double[probs.Length];
        var keys = _typicalKeys.AsSpan(0, n);
        var ids = order[..n];
        for (int i = 0; i < n; i++)
        {
            double q = probs[ids[i]] / total;
            keys[i] = Math.Abs(-Math.Log(Math.Max(q, 1e-30)) - entropy);
        }
        keys.Sort(ids);
        double cumulative = 0;
        for (int i = 0; i < n; i++)
        {
            cumulative += probs[ids[i]] / total;
            if (cumulative >= typicalP) return i + 1;
        }
        return n;
    }
}

/// <summary>A small, fast, seedable generator: a request's own stream of randomness.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
