using Inkwell.Runtime.Kernels;

namespace Inkwell.Runtime.Tests.Kernels;

public sealed class HalfConversionTests
{
    [Fact]
    public void Vector_f16_to_f32_matches_the_runtime_for_every_bit_pattern()
    {
        if (!MatMul.IsAccelerated) return;
        for (int i = 0; i < 65536; i += 8)
        {
            var h = System.Runtime.Intrinsics.Vector128.Create((ushort)i, (ushort)(i + 1), (ushort)(i + 2), (ushort)(i + 3),
                (ushort)(i + 4), (ushort)(i + 5), (ushort)(i + 6), (ushort)(i + 7));
            var f = HalfConversion.HalfToSingle(h);
            var wide = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated
                ? HalfConversion.HalfToSingle(System.Runtime.Intrinsics.Vector256.Create(h, h))
                : System.Runtime.Intrinsics.Vector512.Create(f, f);
            for (int k = 0; k < 8; k++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf((ushort)(i + k));
                foreach (float got in new[] { f[k], wide[k], wide[k + 8] })
                {
                    if (float.IsNaN(expected)) Assert.True(float.IsNaN(got));
                    else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(got));
                }
            }
        }
    }

    [Fact]
    public void Finite_vector_f16_to_f32_matches_the_runtime_for_every_finite_bit_pattern()
    {
        if (!MatMul.IsAccelerated) return;
        for (int i = 0; i < 65536; i += 8)
        {
            var h = System.Runtime.Intrinsics.Vector128.Create((short)i, (short)(i + 1), (short)(i + 2), (short)(i + 3),
                (short)(i + 4), (short)(i + 5), (short)(i + 6), (short)(i + 7));
            var f = HalfConversion.FiniteHalfToSingle(h);
            for (int k = 0; k < 8; k++)
            {
                var half = BitConverter.UInt16BitsToHalf((ushort)(i + k));
                if (!Half.IsFinite(half)) continue;
                Assert.Equal(BitConverter.SingleToInt32Bits((float)half), BitConverter.SingleToInt32Bits(f[k]));
            }
        }
    }

    [Fact]
    public void Scaled_finite_f16_to_f32_is_exactly_the_value_times_2_pow_minus_112_for_every_finite_bit_pattern()
    {
        if (!MatMul.IsAccelerated) return;
        bool wide = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        for (int i = 0; i < 65536; i += 8)
        {
            var h = System.Runtime.Intrinsics.Vector128.Create((short)i, (short)(i + 1), (short)(i + 2), (short)(i + 3),
                (short)(i + 4), (short)(i + 5), (short)(i + 6), (short)(i + 7));
            var f = HalfConversion.FiniteHalfToScaledSingle(h);
            var f16 = wide ? HalfConversion.FiniteHalfToScaledSingle(System.Runtime.Intrinsics.Vector256.Create(h, h))
                : System.Runtime.Intrinsics.Vector512.Create(f, f);
            for (int k = 0; k < 8; k++)
            {
                var half = BitConverter.UInt16BitsToHalf((ushort)(i + k));
                if (!Half.IsFinite(half)) continue;
                // 2^-112 as a double, so the expected value is computed without the kernel's f32 scaling
                float expected = (float)((double)half * Math.Pow(2, -112));
                foreach (float got in new[] { f[k], f16[k], f16[k + 8] })
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(got));
            }
        }
    }

    [Fact]
    public unsafe void Checked_f16_loads_match_the_runtime_for_every_finite_bit_pattern()
    {
        // FloatGemm's panels store these widened weights, so they must be exact, subnormals included.
        if (!MatMul.IsAccelerated) return;
        bool wide = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        fixed (ushort* p = bits)
        {
            for (int i = 0; i < 65536; i += 16)
            {
                var narrow = System.Runtime.Intrinsics.Vector512.Create(FromCheckedF16.Load8((byte*)p, i), FromCheckedF16.Load8((byte*)p, i + 8));
                var got = wide ? FromCheckedF16.Load16((byte*)p, i) : narrow;
                for (int k = 0; k < 16; k++)
                {
                    var half = BitConverter.UInt16BitsToHalf((ushort)(i + k));
                    if (!Half.IsFinite(half)) continue;
                    int expected = BitConverter.SingleToInt32Bits((float)half);
                    Assert.Equal(expected, BitConverter.SingleToInt32Bits(got[k]));
                    Assert.Equal(expected, BitConverter.SingleToInt32Bits(narrow[k]));
                }
            }
        }
    }
}
