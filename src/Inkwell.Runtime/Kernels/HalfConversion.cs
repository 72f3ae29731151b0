using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// f16 and bf16 → f32 widening: whole rows (scalar tail included) and single vectors. Scalar block scales go
/// through <see cref="Quant.F16(ushort)"/>'s table instead.
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
    private const int F16RebiasBits = (127 + 112) << 23;

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
