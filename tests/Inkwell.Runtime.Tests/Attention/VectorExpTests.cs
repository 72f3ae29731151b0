using Inkwell.Runtime.Attention;

namespace Inkwell.Runtime.Tests.Attention;

public class VectorExpTests
{
    [Fact]
    public void Exp_is_within_2_ulp_of_MathF_Exp_over_the_float_range_and_exact_at_the_ends()
    {
        var inputs = new List<float>();
        for (float x = -87.3f; x <= 88.7f; x += 0.0137f) inputs.Add(x);
        inputs.AddRange([0f, -0f, 1f, -1f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.72f, -87.33f]);
        while (inputs.Count % 16 != 0) inputs.Add(0.5f);
        var xs = inputs.ToArray();
        for (int i = 0; i < xs.Length; i += 16)
        {
            var wide = Exp512(xs.AsSpan(i, 16));
            var narrow = Exp256(xs.AsSpan(i, 8)).Concat(Exp256(xs.AsSpan(i + 8, 8))).ToArray();
            for (int l = 0; l < 16; l++)
            {
                float expected = MathF.Exp(xs[i + l]);
                float ulp = MathF.BitIncrement(expected) - expected;
                Assert.True(Math.Abs(wide[l] - expected) <= 2 * ulp, $"512: exp({xs[i + l]}) = {wide[l]}, expected {expected}");
                Assert.True(Math.Abs(narrow[l] - expected) <= 2 * ulp, $"256: exp({xs[i + l]}) = {narrow[l]}, expected {expected}");
            }
        }

        float[] ends = [float.NegativeInfinity, -1000f, -88f, 89f, 1000f, float.PositiveInfinity, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f];
        var e = Exp512(ends);
        Assert.Equal([0f, 0f, 0f, float.PositiveInfinity, float.PositiveInfinity, float.PositiveInfinity], e.Take(6));
        Assert.Equal(e.Take(8), Exp256(ends.AsSpan(0, 8)));
    }

    private static float[] Exp512(ReadOnlySpan<float> x)
    {
        var r = new float[16];
        System.Runtime.Intrinsics.Vector512.CopyTo(VectorExp.Exp(System.Runtime.Intrinsics.Vector512.Create(x)), r);
        return r;
    }

    private static float[] Exp256(ReadOnlySpan<float> x)
    {
        var r = new float[8];
        System.Runtime.Intrinsics.Vector256.CopyTo(VectorExp.Exp(System.Runtime.Intrinsics.Vector256.Create(x)), r);
        return r;
    }
}
