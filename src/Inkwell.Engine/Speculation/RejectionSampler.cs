using Inkwell.Engine.Sampling;

namespace Inkwell.Engine.Speculation;

/// <summary>
/// Speculative rejection sampling (Leviathan et al. 2023, Chen et al. 2023): a draft token x drawn from q is kept with
/// probability min(1, p(x)/q(x)); otherwise a token is drawn from norm(max(0, p - q)). The kept or redrawn token is
/// then distributed exactly as p. An empty q is a point mass on the draft token (prompt lookup, greedy drafts).
/// </summary>
public static class RejectionSampler
{
    /// <summary>Whether to keep the draft token under target distribution p (draws one uniform number).</summary>
    public static bool Accept(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int draft, ref SplitMix64 rng)
    {
        double u = rng.NextDouble();
        float target = p[draft];
        float proposal = q.IsEmpty ? 1f : q[draft];
        if (target >= proposal) return true;
        return u * proposal < target;
    }

    /// <summary>After a rejection: draws from norm(max(0, p - q)), built in <paramref name="residual"/>.</summary>
    public static int Resample(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int draft, Span<float> residual, ref SplitMix64 rng)
    {
        residual = residual[..p.Length];
        if (q.IsEmpty)
        {
            p.CopyTo(residual);
            residual[draft] = Math.Max(0f, p[draft] - 1f);
        }
        else
        {
            System.Numerics.Tensors.TensorPrimitives.Subtract(p, q, residual);
            System.Numerics.Tensors.TensorPrimitives.Max(residual, 0f, residual);
        }
        // A rejection means p(x) < q(x), so mass is left elsewhere; rounding alone could leave none: fall back to p.
        if (System.Numerics.Tensors.TensorPrimitives.Sum(residual) <= 0f) return Sampler.Draw(p, ref rng);
        return Sampler.Draw(residual, ref rng);
    }
}
