using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Inkwell.Runtime.Attention;

/// <summary>
/// exp over float vectors in float arithmetic (Cephes expf: e^x = 2^n · e^r with |r| ≤ ln2/2 and a degree-7
/// polynomial), within 2 ulp of MathF.Exp. The runtime's Vector512.Exp widens to double and costs several times
/// more, which the softmax and SwiGLU notice. Below -87.33 (where results turn subnormal) it returns 0; above
/// ln(float.MaxValue) it returns +inf.
/// </summary>
public static class VectorExp
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;          // ln 2 split so that n · Ln2Hi is exact
    private const float Ln2Lo = -2.12194440e-4f;
    private const float MinArgument = -87.33654475f;   // ln(float.MinNormal)
    private const float MaxArgument = 88.72283905f;    // ln(float.MaxValue)
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f;
    private const float P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(MinArgument)), Vector512.Create(MaxArgument));
        var n = Vector512.Floor(Vector512.MultiplyAddEstimate(clamped, Vector512.Create(Log2E), Vector512.Create(0.5f)));
        var r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-Ln2Hi), clamped);
        r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.MultiplyAddEstimate(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P2));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P3));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P4));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P5));
        p = Vector512.MultiplyAddEstimate(p, r * r, r + Vector512<float>.One);
        // 2^n for n in [-126, 128] as two normal factors 2^(n/2) · 2^(n - n/2), so n = 128 overflows only in the product.
        var ni = Vector512.ConvertToInt32(n);
        var half = ni >> 1;
        var scaleA = Vector512.ShiftLeft(half + Vector512.Create(127), 23).AsSingle();
        var scaleB = Vector512.ShiftLeft(ni - half + Vector512.Create(127), 23).AsSingle();
        var result = p * scaleA * scaleB;
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(MinArgument)), Vector512<float>.Zero, result);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(MaxArgument)), Vector512.Create(float.PositiveInfinity), result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(MinArgument)), Vector256.Create(MaxArgument));
        var n = Vector256.Floor(Vector256.MultiplyAddEstimate(clamped, Vector256.Create(Log2E), Vector256.Create(0.5f)));
        var r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-Ln2Hi), clamped);
        r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.MultiplyAddEstimate(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P2));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P3));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P4));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P5));
        p = Vector256.MultiplyAddEstimate(p, r * r, r + Vector256<float>.One);
        var ni = Vector256.ConvertToInt32(n);
        var half = ni >> 1;
        var scaleA = Vector256.ShiftLeft(half + Vector256.Create(127), 23).AsSingle();
        var scaleB = Vector256.ShiftLeft(ni - half + Vector256.Create(127), 23).AsSingle();
        var result = p * scaleA * scaleB;
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(MinArgument)), Vector256<float>.Zero, result);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(MaxArgument)), Vector256.Create(float.PositiveInfinity), result);
    }
}
