using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Threading;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// f16 and bf16 → f32 widening: whole rows (scalar tail included) and single vectors, and the per-encoding loads
/// (<see cref="IFloatLoad"/>) that float kernels inline. Scalar block scales go through
/// <see cref="Quant.F16(ushort)"/>'s table instead.
/// </summary>
internal static unsafe class HalfConversion
{
    internal static void WidenF16(ushort* src, float* dst, int len, bool simd)
    {
        int j = 0;
        if (simd && Avx512F.IsSupported)
            for (; j + 16 <= len; j += 16) HalfToSingle(Vector256.Load(src + j)).Store(dst + j);
        if (simd)
            for (; j + 8 <= len; j += 8) HalfToSingle(Vector128.Load(src + j)).Store(dst + j);
        for (; j < len; j++) dst[j] = Quant.F16(src[j]);
    }

    /// <summary>Sixteen f16 → f32, as <see cref="HalfToSingle(Vector128{ushort})"/> at twice the width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> HalfToSingle(Vector256<ushort> h)
    {
        var x = Avx512F.ConvertToVector512Int32(h);
        var f = Vector512.ShiftLeft(x & Vector512.Create(0x7fff), 13).AsSingle() * Vector512.Create(F16RebiasBits).AsSingle();
        var special = Vector512.Equals(x & Vector512.Create(0x7c00), Vector512.Create(0x7c00)) & Vector512.Create(0x7f800000);
        return (f.AsInt32() | special | Vector512.ShiftLeft(x & Vector512.Create(0x8000), 16)).AsSingle();
    }

    /// <summary>
    /// The bits of 2^112: moves an f16 exponent field, placed in f32 position, to the f32 bias (15 → 127). A
    /// constant rather than a static readonly float, which costs a class-initialization check per use when the JIT
    /// compiles without tiering.
    /// </summary>
    internal const int F16RebiasBits = (127 + 112) << 23;

    /// <summary>
    /// Eight f16 → f32 with integer ops (no F16C intrinsic in .NET): exponent and mantissa moved into f32 position
    /// and rebiased by one multiplication by 2^112, which is exact and also renormalizes subnormals; exponent 31
    /// (inf/nan) is forced to 255; then the sign.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> HalfToSingle(Vector128<ushort> h)
    {
        var x = Avx2.ConvertToVector256Int32(h);
        var f = Vector256.ShiftLeft(x & Vector256.Create(0x7fff), 13).AsSingle() * Vector256.Create(F16RebiasBits).AsSingle();
        var special = Vector256.Equals(x & Vector256.Create(0x7c00), Vector256.Create(0x7c00)) & Vector256.Create(0x7f800000);
        return (f.AsInt32() | special | Vector256.ShiftLeft(x & Vector256.Create(0x8000), 16)).AsSingle();
    }

    /// <summary>
    /// Eight finite f16 → f32 (packing refuses matrices with inf/nan scales): exponent and mantissa moved into f32
    /// position and rebiased by one exact multiplication by 2^112 (which also renormalizes subnormals); the sign
    /// comes from the sign-extended top bit. Four operations where
    /// <see cref="HalfToSingle(Vector128{ushort})"/> needs ten.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FiniteHalfToSingle(Vector128<short> h)
    {
        var x = Avx2.ConvertToVector256Int32(h);
        var magnitude = Vector256.ShiftLeft(x & Vector256.Create(0x7fff), 13).AsSingle() * Vector256.Create(F16RebiasBits).AsSingle();
        return (magnitude.AsInt32() | (x & Vector256.Create(int.MinValue))).AsSingle();
    }

    /// <summary>
    /// Sixteen finite f16 → f32 times 2^-112, in three operations: sign-extend, move exponent and mantissa into f32
    /// position, clear the three sign copies that land in the exponent's top bits. Every finite f16 value v becomes
    /// exactly v·2^-112 (subnormals become f32 subnormals), so a kernel that scales its activations and sums by
    /// powers of two (see <see cref="FromFiniteF16"/>) needs no rebiasing multiply per weight. Inf/NaN come out as
    /// large finite values: only for matrices checked free of them (<see cref="HasNonFiniteF16"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> FiniteHalfToScaledSingle(Vector256<short> h)
        => (Vector512.ShiftLeft(Avx512F.ConvertToVector512Int32(h), 13) & Vector512.Create(ScaledSignAndMagnitude)).AsSingle();

    /// <summary>Eight finite f16 → f32 times 2^-112, as <see cref="FiniteHalfToScaledSingle(Vector256{short})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FiniteHalfToScaledSingle(Vector128<short> h)
        => (Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(h), 13) & Vector256.Create(ScaledSignAndMagnitude)).AsSingle();

    /// <summary>The sign bit and the 28 bits below the three sign copies that a 13-bit shift of a sign-extended f16 leaves.</summary>
    private const int ScaledSignAndMagnitude = unchecked((int)0x8FFFFFFF);

    /// <summary>
    /// Whether w is an F16 matrix holding no inf/NaN, which the kernels then widen with the short conversions
    /// (<see cref="FromFiniteF16"/>, <see cref="FromCheckedF16"/>). Found by one parallel scan on first use and kept on
    /// the matrix: one extra read of the weights, once, where checking in the kernel would cost on every token.
    /// </summary>
    internal static bool IsFiniteF16(WeightMatrix w, WorkerPool pool)
    {
        if (w.Type != GgmlType.F16) return false;
        int state = Volatile.Read(ref w.HalfFiniteness);
        if (state == 0)
        {
            var scan = new NonFiniteScan { W = w.Data, RowBytes = w.RowBytes, Cols = w.Cols };
            pool.Run(w.Rows, ref scan);
            state = scan.Found ? WeightMatrix.HasNonFinite : WeightMatrix.AllFinite;
            Volatile.Write(ref w.HalfFiniteness, state); // racing first calls compute the same answer
        }
        return state == WeightMatrix.AllFinite;
    }

    private struct NonFiniteScan : IRangeBody
    {
        public byte* W;
        public long RowBytes;
        public int Cols;
        public bool Found; // only ever set, so concurrent ranges may write it

        public void Invoke(int start, int end)
        {
            if (HasNonFiniteF16((ushort*)(W + start * RowBytes), (long)(end - start) * Cols)) Found = true;
        }
    }

    /// <summary>True when any of count f16 values is inf or NaN (exponent field all ones).</summary>
    internal static bool HasNonFiniteF16(ushort* h, long count)
    {
        long j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var exponent = Vector256.Create((ushort)0x7c00);
            var any = Vector256<ushort>.Zero;
            for (; j + 16 <= count; j += 16)
                any |= Vector256.Equals(Vector256.Load(h + j) & exponent, exponent);
            if (any != Vector256<ushort>.Zero) return true;
        }
        for (; j < count; j++)
            if ((h[j] & 0x7c00) == 0x7c00) return true;
        return false;
    }

    internal static void WidenBF16(ushort* src, float* dst, int len, bool simd)
    {
        int j = 0;
        if (simd && Avx512F.IsSupported)
        {
            for (; j + 16 <= len; j += 16)
                Vector512.ShiftLeft(Avx512F.ConvertToVector512Int32(Vector256.Load(src + j)), 16).AsSingle().Store(dst + j);
        }
        if (simd)
        {
            // bf16 is the top half of an f32: widen and shift.
            for (; j + 16 <= len; j += 16)
            {
                var v = Vector256.Load(src + j);
                Vector256.ShiftLeft(Vector256.WidenLower(v), 16).AsSingle().Store(dst + j);
                Vector256.ShiftLeft(Vector256.WidenUpper(v), 16).AsSingle().Store(dst + j + 8);
            }
        }
        for (; j < len; j++) dst[j] = BitConverter.Int32BitsToSingle(src[j] << 16);
    }
}

/// <summary>
/// Loads of float weights of one encoding as f32 vectors; kernels are specialized per encoding through these
/// structs, so the conversion is inlined into their inner loops.
/// </summary>
internal unsafe interface IFloatLoad
{
    /// <summary>Sixteen weights of a row from element k (AVX-512), scaled as <see cref="Scaled"/> says.</summary>
    static abstract Vector512<float> Load16(byte* row, int k);

    /// <summary>Eight weights of a row from element k (AVX2), scaled as <see cref="Scaled"/> says.</summary>
    static abstract Vector256<float> Load8(byte* row, int k);

    /// <summary>One weight, exact (not scaled): row tails and edges.</summary>
    static abstract float Load1(byte* row, int k);

    /// <summary>True when the vector loads return the weights times 2^-112 (<see cref="FromFiniteF16"/>).</summary>
    static abstract bool Scaled { get; }

    /// <summary>Bytes per weight.</summary>
    static abstract int ElementBytes { get; }
}

internal unsafe struct FromF32 : IFloatLoad
{
    public static bool Scaled => false;
    public static int ElementBytes => 4;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) => Vector512.Load((float*)row + k);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) => Vector256.Load((float*)row + k);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => ((float*)row)[k];
}

/// <summary>f16 with inf/NaN kept (exponent 31 forced to 255): any matrix.</summary>
internal unsafe struct FromF16 : IFloatLoad
{
    public static bool Scaled => false;
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) => HalfConversion.HalfToSingle(Vector256.Load((ushort*)row + k));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) => HalfConversion.HalfToSingle(Vector128.Load((ushort*)row + k));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => Quant.F16(((ushort*)row)[k]);
}

/// <summary>
/// Finite f16 as f32 times 2^-112 (<see cref="HalfConversion.FiniteHalfToScaledSingle(Vector256{short})"/>): three
/// integer operations per vector where the exact conversion needs ten. Kernels scale the activations by
/// <see cref="ActivationScale"/> and the sums by <see cref="SumScale"/>, powers of two whose product is 2^112, so
/// every product is the unscaled one times 2^-48: exact, and far from f32's overflow and underflow for any weight
/// and any activation below 2^64.
/// </summary>
internal unsafe struct FromFiniteF16 : IFloatLoad
{
    public const float ActivationScale = 18446744073709551616f; // 2^64
    public const float SumScale = 281474976710656f;             // 2^48
    public static bool Scaled => true;
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) => HalfConversion.FiniteHalfToScaledSingle(Vector256.Load((short*)row + k));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) => HalfConversion.FiniteHalfToScaledSingle(Vector128.Load((short*)row + k));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => Quant.F16(((ushort*)row)[k]);
}

/// <summary>
/// f16 from a matrix checked free of inf/NaN, exact: <see cref="FromFiniteF16"/>'s three operations and one exact
/// multiplication by 2^112 (which also renormalizes subnormals), where <see cref="FromF16"/> needs ten. For kernels
/// that store the widened weights (FloatGemm's panels) rather than consume them at once.
/// </summary>
internal unsafe struct FromCheckedF16 : IFloatLoad
{
    public static bool Scaled => false;
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k)
        => FromFiniteF16.Load16(row, k) * Vector512.Create(HalfConversion.F16RebiasBits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k)
        => FromFiniteF16.Load8(row, k) * Vector256.Create(HalfConversion.F16RebiasBits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => Quant.F16(((ushort*)row)[k]);
}

/// <summary>bf16 is the top half of an f32: widen and shift (exact, inf/NaN included).</summary>
internal unsafe struct FromBF16 : IFloatLoad
{
    public static bool Scaled => false;
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k)
        => Vector512.ShiftLeft(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)row + k)), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k)
        => Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(Vector128.Load((ushort*)row + k)), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => BitConverter.Int32BitsToSingle(((ushort*)row)[k] << 16);
}
