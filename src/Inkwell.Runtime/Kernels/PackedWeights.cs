using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// A Q4_0 / Q5_0 / Q8_0 (and Q4_K / Q5_K / Q6_K, see PackedWeights.KQuants.cs) weight matrix repacked for the
/// row-interleaved VNNI kernel (the shape of ggml's q4_0_8x8 GEMM, on 256-bit vectors): rows in groups of eight, and for each group and
/// 32-block one 32-byte vector per VNNI step holding 4 consecutive codes of each of the 8 rows, so one vpdpbusd
/// against 4 broadcast activation bytes leaves each int32 lane with its own row's partial dot and no horizontal
/// reduction is needed.
/// <list type="bullet">
/// <item>Q4_0: 4 vectors of 32 bytes per group-block; byte (p, r, k) is the original qs_r[4p + k], so its low
/// nibble is code 4p + k and its high nibble code 16 + 4p + k (codes stay 4-bit: decode reads every byte).</item>
/// <item>Q5_0: Q4_0's 4 vectors, then one more holding each row's 32 fifth bits as a u32 (see <see cref="FifthBits"/>).</item>
/// <item>Q8_0: 8 vectors; byte (j, r, k) is q_r[4j + k] + 128, unsigned as vpdpbusd wants it; without VNNI the
/// code itself, signed (the kernel takes |q| for vpmaddubsw and q's sign onto the activation, see
/// <see cref="Q8Bias"/>).</item>
/// </list>
/// The 8 rows' f16 block scales follow all codes, [group][block][8]. The k-quants keep each group's
/// super-block whole instead, codes and scales together (see PackedWeights.KQuants.cs). Native, 64-byte aligned,
/// freed on <see cref="Dispose"/> or by the finalizer when the owning <see cref="WeightMatrix"/> is collected.
/// </summary>
internal sealed unsafe partial class PackedWeights : IDisposable
{
    private byte* _memory;
    private readonly long _bytes;

    private PackedWeights(WeightMatrix w)
    {
        Type = w.Type;
        RowGroups = w.Rows / 8;
        bool k = IsKQuant(Type);
        Blocks = k ? w.Cols / 256 : w.Cols / 32;
        CodeBytes = Type switch
        {
            GgmlType.Q4_0 => 128,
            GgmlType.Q5_0 => 160,
            GgmlType.Q8_0 => 256,
            GgmlType.Q4_K => Q4KGroupBytes,
            GgmlType.Q5_K => Q5KGroupBytes,
            _ => Q6KGroupBytes,
        };
        long blocks = (long)RowGroups * Blocks;
        long codes = blocks * CodeBytes;
        _bytes = codes + (k ? 0 : blocks * 16);
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)_bytes, 64);
        GC.AddMemoryPressure(_bytes);
        Codes = _memory;
        Scales = k ? null : (ushort*)(_memory + codes);
    }

    public static bool IsKQuant(GgmlType t) => t is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Source bytes packed between two page releases.</summary>
    private const long ReleaseStride = 1 << 20;

    /// <summary>
    /// Packs w, or returns null where a block scale is inf/nan (the kernel's f16 conversion assumes finite
    /// scales). Where w's owner is an <see cref="IReleasableMapping"/>, the source pages are handed back every
    /// <see cref="ReleaseStride"/> bytes as packing passes them, so resident memory never holds both copies of
    /// more than that.
    /// </summary>
    public static PackedWeights? TryCreate(WeightMatrix w)
    {
        if (!PackedMatMul.CanPack(w)) throw new ArgumentException($"{w.Name}: {w.Type} [{w.Rows}, {w.Cols}] cannot be packed");
        var packed = new PackedWeights(w);
        var mapping = w.Owner as IReleasableMapping;
        byte* released = w.Data;
        nuint page = (nuint)Environment.SystemPageSize;
        for (int g = 0; g < packed.RowGroups; g++)
        {
            if (!packed.PackGroup(w, g))
            {
                packed.Dispose();
                return null;
            }
            byte* done = w.Row(8 * g + 7) + w.RowBytes;
            if (mapping != null && (done - released >= ReleaseStride || g == packed.RowGroups - 1))
            {
                w.PagesReleased = true;
                mapping.ReleasePages(released, done - released);
                released = (byte*)((nuint)done & ~(page - 1)); // the page straddling `done` goes next time
            }
        }
        return packed;
    }

    /// <summary>Rows 8g..8g+7 into the packed layout; false on an inf/nan block scale.</summary>
    private bool PackGroup(WeightMatrix w, int g)
    {
        if (IsKQuant(Type)) return PackGroupK(w, g);
        int blockBytes = Type switch { GgmlType.Q4_0 => 18, GgmlType.Q5_0 => 22, _ => 34 };
        for (int r = 0; r < 8; r++)
        {
            byte* src = w.Row(8 * g + r);
            byte* dst = Codes + (long)g * Blocks * CodeBytes + 4 * r;
            ushort* sc = Scales + (long)g * Blocks * 8 + r;
            for (int b = 0; b < Blocks; b++, dst += CodeBytes, sc += 8)
            {
                byte* blk = src + (long)blockBytes * b;
                ushort d = Unsafe.ReadUnaligned<ushort>(blk);
                if ((d & 0x7c00) == 0x7c00) return false;
                *sc = d;
                if (Type == GgmlType.Q5_0)
                {
                    // { f16 d; u32 qh; u8 qs[16] }: code j's fifth bit is qh bit j (low nibbles j < 16, high j + 16).
                    for (int p = 0; p < 4; p++)
                        Unsafe.WriteUnaligned(dst + 32 * p, Unsafe.ReadUnaligned<uint>(blk + 6 + 4 * p));
                    Unsafe.WriteUnaligned(dst + 128, FifthBits(Unsafe.ReadUnaligned<uint>(blk + 2)));
                }
                else if (Type == GgmlType.Q4_0)
                {
                    for (int p = 0; p < 4; p++)
                        Unsafe.WriteUnaligned(dst + 32 * p, Unsafe.ReadUnaligned<uint>(blk + 2 + 4 * p));
                }
                else
                {
                    uint flip = Q8Bias == 128 ? 0x80808080u : 0; // + 128 on each byte: flip its top bit
                    for (int j = 0; j < 8; j++)
                        Unsafe.WriteUnaligned(dst + 32 * j, Unsafe.ReadUnaligned<uint>(blk + 2 + 4 * j) ^ flip);
                }
            }
        }
        return true;
    }

    /// <summary>
    /// What packing adds to each Q8_0 code: 128 for vpdpbusd's unsigned operand where AVX-VNNI exists, else 0 (the
    /// vpmaddubsw path needs the sign, and |q| ≤ 128 keeps its i16 pair sums exact).
    /// </summary>
    internal static int Q8Bias => AvxVnni.IsSupported ? 128 : 0;

    /// <summary>
    /// Q5_0's qh rearranged for the kernel: byte k holds, at bit 4 + p, the fifth bit of code 4p + k (vector p's low
    /// nibble) and at bit p that of code 16 + 4p + k (its high nibble), p = 0..3.
    /// </summary>
    internal static uint FifthBits(uint qh)
    {
        uint x = 0;
        for (int k = 0; k < 4; k++)
            for (int p = 0; p < 4; p++)
            {
                x |= ((qh >> (4 * p + k)) & 1) << (8 * k + 4 + p);
                x |= ((qh >> (16 + 4 * p + k)) & 1) << (8 * k + p);
            }
        return x;
    }

    public GgmlType Type { get; }
    public int RowGroups { get; }
    public int Blocks { get; }
    /// <summary>
    /// Bytes of codes per group of 8 rows per block: 128 (Q4_0) or 256 (Q8_0) per 32-block; for k-quants the
    /// whole group-super-block, scales included.
    /// </summary>
    public int CodeBytes { get; }
    public byte* Codes { get; }
    /// <summary>Q4_0/Q8_0 block scales, [group][block][8]; null for k-quants.</summary>
    public ushort* Scales { get; }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~PackedWeights() => Free();

    private void Free()
    {
        byte* m = _memory;
        if (m == null) return;
        _memory = null;
        GC.RemoveMemoryPressure(_bytes);
        NativeMemory.AlignedFree(m);
    }
}
