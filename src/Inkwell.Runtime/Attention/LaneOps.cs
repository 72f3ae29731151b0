using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Kernels;

namespace Inkwell.Runtime.Attention;

/// <summary>
/// The few vector operations the lane kernel needs, over one vector width. A struct type argument, so each width
/// gets its own compiled kernel with these calls inlined.
/// </summary>
internal unsafe interface ILaneOps<TV> where TV : struct
{
    static abstract int Width { get; }
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Splat(float x);
    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    static abstract TV MulAdd(TV a, TV b, TV c);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    static abstract TV Exp(TV v);
    static abstract float Sum(TV v);
    /// <summary>-inf in the lanes whose position is before <paramref name="keyPosition"/>, the score elsewhere.</summary>
    static abstract TV MaskAfter(TV scores, TV lanePositions, float keyPosition);
    /// <summary>-inf in lanes <paramref name="count"/> and up, v elsewhere.</summary>
    static abstract TV MaskFrom(TV v, int count);
    /// <summary>-inf in lanes below <paramref name="count"/>, v elsewhere.</summary>
    static abstract TV MaskBelow(TV v, int count);
    /// <summary>The largest element.</summary>
    static abstract float MaxAcross(TV v);
    /// <summary>Lane i = the sum of the elements of vector i, for the Width vectors at <paramref name="vectors"/> (Width floats apart).</summary>
    static abstract TV SumEach(float* vectors);
    /// <summary>dst[c * Width + i] = rows[i][offset + c] for i, c &lt; Width.</summary>
    static abstract void Transpose(float** rows, int offset, float* dst);
}

internal readonly unsafe struct Lanes512 : ILaneOps<Vector512<float>>
{
    public static int Width => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> v) => VectorExp.Exp(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskAfter(Vector512<float> scores, Vector512<float> lanePositions, float keyPosition) =>
        Vector512.ConditionalSelect(Vector512.LessThan(lanePositions, Vector512.Create(keyPosition)), Vector512.Create(float.NegativeInfinity), scores);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskFrom(Vector512<float> v, int count) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512<float>.Indices, Vector512.Create((float)count)), Vector512.Create(float.NegativeInfinity), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskBelow(Vector512<float> v, int count) =>
        Vector512.ConditionalSelect(Vector512.LessThan(Vector512<float>.Indices, Vector512.Create((float)count)), Vector512.Create(float.NegativeInfinity), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> v)
    {
        var m = Vector128.Max(Vector256.Max(v.GetLower(), v.GetUpper()).GetLower(), Vector256.Max(v.GetLower(), v.GetUpper()).GetUpper());
        return Math.Max(Math.Max(m.GetElement(0), m.GetElement(1)), Math.Max(m.GetElement(2), m.GetElement(3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SumEach(float* v)
    {
        if (!Avx512F.IsSupported)
        {
            var sums = Vector512<float>.Zero;
            for (int i = 0; i < 16; i++) sums = sums.WithElement(i, Vector512.Sum(Vector512.Load(v + i * 16)));
            return sums;
        }
        // Pairs, then quads, interleaved within 128-bit lanes; then two rounds of 128-bit lane shuffles:
        // 45 shuffles and adds for 16 sums instead of a full horizontal sum each.
        var p0 = Pair(v, 0); var p1 = Pair(v, 2); var p2 = Pair(v, 4); var p3 = Pair(v, 6);
        var p4 = Pair(v, 8); var p5 = Pair(v, 10); var p6 = Pair(v, 12); var p7 = Pair(v, 14);
        // q[k]: per 128-bit lane L, the partial sums over lane L of vectors 4k..4k+3
        var q0 = Quad(p0, p1); var q1 = Quad(p2, p3); var q2 = Quad(p4, p5); var q3 = Quad(p6, p7);
        var r01 = Avx512F.Shuffle4x128(q0, q1, 0x88) + Avx512F.Shuffle4x128(q0, q1, 0xDD);
        var r23 = Avx512F.Shuffle4x128(q2, q3, 0x88) + Avx512F.Shuffle4x128(q2, q3, 0xDD);
        return Avx512F.Shuffle4x128(r01, r23, 0x88) + Avx512F.Shuffle4x128(r01, r23, 0xDD);

        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] of vectors a = v[i], b = v[i + 1].
        static Vector512<float> Pair(float* v, int i)
        {
            Vector512<float> a = Vector512.Load(v + i * 16), b = Vector512.Load(v + (i + 1) * 16);
            return Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b);
        }
        // Per 128-bit lane: the lane sums of the four vectors of two pairs.
        static Vector512<float> Quad(Vector512<float> x, Vector512<float> y) =>
            Avx512F.UnpackLow(x.AsDouble(), y.AsDouble()).AsSingle() + Avx512F.UnpackHigh(x.AsDouble(), y.AsDouble()).AsSingle();
    }

    public static void Transpose(float** rows, int offset, float* dst)
    {
        if (!Avx512F.IsSupported)
        {
            for (int i = 0; i < 16; i++)
                for (int c = 0; c < 16; c++) dst[c * 16 + i] = rows[i][offset + c];
            return;
        }
        var source = new PointerRows { Rows = rows, Offset = offset };
        Transpose16.Run(ref source, dst, 16);
    }

    /// <summary>Row i is 16 floats at rows[i] + Offset.</summary>
    private struct PointerRows : IRows16
    {
        public float** Rows;
        public int Offset;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector512<float> Load(int row) => Vector512.Load(Rows[row] + Offset);
    }
}

internal readonly unsafe struct Lanes256 : ILaneOps<Vector256<float>>
{
    public static int Width => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> v) => VectorExp.Exp(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaskAfter(Vector256<float> scores, Vector256<float> lanePositions, float keyPosition) =>
        Vector256.ConditionalSelect(Vector256.LessThan(lanePositions, Vector256.Create(keyPosition)), Vector256.Create(float.NegativeInfinity), scores);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaskFrom(Vector256<float> v, int count) =>
        Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(Vector256<float>.Indices, Vector256.Create((float)count)), Vector256.Create(float.NegativeInfinity), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaskBelow(Vector256<float> v, int count) =>
        Vector256.ConditionalSelect(Vector256.LessThan(Vector256<float>.Indices, Vector256.Create((float)count)), Vector256.Create(float.NegativeInfinity), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        return Math.Max(Math.Max(m.GetElement(0), m.GetElement(1)), Math.Max(m.GetElement(2), m.GetElement(3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SumEach(float* v)
    {
        if (!Avx.IsSupported)
        {
            var sums = Vector256<float>.Zero;
            for (int i = 0; i < 8; i++) sums = sums.WithElement(i, Vector256.Sum(Vector256.Load(v + i * 8)));
            return sums;
        }
        var p0 = Pair(v, 0); var p1 = Pair(v, 2); var p2 = Pair(v, 4); var p3 = Pair(v, 6);
        var q0 = Quad(p0, p1); var q1 = Quad(p2, p3);
        return Avx.Permute2x128(q0, q1, 0x20) + Avx.Permute2x128(q0, q1, 0x31);

        static Vector256<float> Pair(float* v, int i)
        {
            Vector256<float> a = Vector256.Load(v + i * 8), b = Vector256.Load(v + (i + 1) * 8);
            return Avx.UnpackLow(a, b) + Avx.UnpackHigh(a, b);
        }
        static Vector256<float> Quad(Vector256<float> x, Vector256<float> y) =>
            Avx.UnpackLow(x.AsDouble(), y.AsDouble()).AsSingle() + Avx.UnpackHigh(x.AsDouble(), y.AsDouble()).AsSingle();
    }

    public static void Transpose(float** rows, int offset, float* dst)
    {
        if (!Avx.IsSupported)
        {
            for (int i = 0; i < 8; i++)
                for (int c = 0; c < 8; c++) dst[c * 8 + i] = rows[i][offset + c];
            return;
        }
        var pointers = new PointerRows { Rows = rows, Offset = offset };
        Transpose8.Run(ref pointers, dst, 8);
    }

    /// <summary>Row i is 8 floats at rows[i] + Offset.</summary>
    private struct PointerRows : IRows8
    {
        public float** Rows;
        public int Offset;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector256<float> Load(int row) => Vector256.Load(Rows[row] + Offset);
    }
}
