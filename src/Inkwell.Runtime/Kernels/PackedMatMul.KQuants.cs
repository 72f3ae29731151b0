using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// The Q4_K / Q6_K kernels over <see cref="PackedWeights"/>. Activations are quantized as
/// ActivationQuantization.QuantizeQ8K (one scale per 256, the same rounding, so the integer sums equal the
/// reference path's). Per super-block and activation row, each 32-sub-block (Q4_K) or 16-group (Q6_K) is one
/// vpdpbusd chain whose int32 lanes are the 8 weight rows' dots, converted and multiplied into an f32 super-block
/// sum by the 8 rows' d·scale; Q4_K's mins term (Σ min·(sum of 32 activations)) is four vpdpwssd, Q6_K's −32
/// offset is the chain's start (−32·Σq, the same for all rows); the super-block sum then meets the row's
/// activation scale once.
/// </summary>
internal static unsafe partial class PackedMatMul
{
    /// <summary>
    /// Activation tile bytes per super-block for a tile of h rows (see <see cref="ActBlockBytes"/>): codes [h][256] i8,
    /// d [h] f32, sums of each 32 [h][8] i16 (Q4_K's mins), and −32·(sum of each 16) [h][16] i32 (Q6_K's dot starts).
    /// </summary>
    private static int ActKD(int rows) => rows * 256;
    private static int ActKSums(int rows) => ActKD(rows) + rows * 4;
    private static int ActKStarts(int rows) => ActKSums(rows) + rows * 16;
    private static int ActKBytes(int rows) => ActKStarts(rows) + rows * 64;

    /// <summary>Super-blocks per K chunk (see <see cref="KChunk"/>): GroupTile groups' codes stay within L1 beside the activation tile.</summary>
    private const int KChunkQ4K = 2, KChunkQ6K = 2;

    /// <summary>Row k of an activation tile of tileRows rows, super-block by super-block (see <see cref="ActKBytes"/>).</summary>
    private static void QuantizeRowK(float* x, int cols, byte* act, int k, int tileRows)
    {
        for (int b = 0; b < cols / 256; b++, x += 256, act += ActKBytes(tileRows))
        {
            var m = Vector256<float>.Zero;
            for (int j = 0; j < 256; j += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + j)));
            float amax = ActivationQuantization.HMax(m);
            float id = amax == 0 ? 0 : 127f / amax;
            ((float*)(act + ActKD(tileRows)))[k] = amax / 127f;
            var vid = Vector256.Create(id);
            sbyte* q = (sbyte*)act + 256 * k;
            short* sums = (short*)(act + ActKSums(tileRows)) + 8 * k;
            int* starts = (int*)(act + ActKStarts(tileRows)) + 16 * k;
            for (int j = 0; j < 256; j += 32)
            {
                var i0 = Avx.ConvertToVector256Int32(Vector256.Load(x + j) * vid);
                var i1 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 8) * vid);
                var i2 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 16) * vid);
                var i3 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 24) * vid);
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store(q + j);
                int lo = Vector256.Sum(i0 + i1), hi = Vector256.Sum(i2 + i3);
                starts[j / 16] = -32 * lo;
                starts[j / 16 + 1] = -32 * hi;
                sums[j / 32] = (short)(lo + hi);
            }
        }
    }

    /// <summary>Four activation bytes (or two i16) at p, in every int32 lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Bcast16(short* p) => Vector256.Create(Unsafe.ReadUnaligned<int>(p)).AsInt16();

    /// <summary>Eight activation codes at q against 8 weight rows' codes of a 32-sub-block: lane r, row r's dot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot32(sbyte* q, Vector256<byte> w0, Vector256<byte> w1, Vector256<byte> w2,
        Vector256<byte> w3, Vector256<byte> w4, Vector256<byte> w5, Vector256<byte> w6, Vector256<byte> w7)
    {
        if (!AvxVnni.IsSupported)
        {
            // Codes ≤ 31 (Q5_K): four steps' pair sums (4·2·31·127 = 31496) fit i16, so each half is widened once.
            var lo = (Pairs(w0, q) + Pairs(w1, q + 4)) + (Pairs(w2, q + 8) + Pairs(w3, q + 12));
            var hi = (Pairs(w4, q + 16) + Pairs(w5, q + 20)) + (Pairs(w6, q + 24) + Pairs(w7, q + 28));
            return Widen(lo) + Widen(hi);
        }
        var a = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, w0, Bcast(q));
        a = AvxVnni.MultiplyWideningAndAdd(a, w1, Bcast(q + 4));
        a = AvxVnni.MultiplyWideningAndAdd(a, w2, Bcast(q + 8));
        a = AvxVnni.MultiplyWideningAndAdd(a, w3, Bcast(q + 12));
        a = AvxVnni.MultiplyWideningAndAdd(a, w4, Bcast(q + 16));
        a = AvxVnni.MultiplyWideningAndAdd(a, w5, Bcast(q + 20));
        a = AvxVnni.MultiplyWideningAndAdd(a, w6, Bcast(q + 24));
        return AvxVnni.MultiplyWideningAndAdd(a, w7, Bcast(q + 28));
    }

    /// <summary>16 activation codes at q against 4 weight vectors, the chain started at *start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot16(int* start, sbyte* q, Vector256<byte> w0, Vector256<byte> w1,
        Vector256<byte> w2, Vector256<byte> w3)
    {
        if (!AvxVnni.IsSupported) // codes ≤ 63: two steps' pair sums (2·2·63·127 = 32004) fit i16
            return Vector256.Create(*start) + (Widen(Pairs(w0, q) + Pairs(w1, q + 4)) + Widen(Pairs(w2, q + 8) + Pairs(w3, q + 12)));
        var a = AvxVnni.MultiplyWideningAndAdd(Vector256.Create(*start), w0, Bcast(q));
        a = AvxVnni.MultiplyWideningAndAdd(a, w1, Bcast(q + 4));
        a = AvxVnni.MultiplyWideningAndAdd(a, w2, Bcast(q + 8));
        return AvxVnni.MultiplyWideningAndAdd(a, w3, Bcast(q + 12));
    }

    /// <summary>sum += f32(dot) · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fold(Vector256<float> sum, Vector256<int> dot, Vector256<float> scale)
        => Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), scale, sum);

    /// <summary>8 u8 / i8 scales at p → f32 lanes, times the rows' d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScalesU8(byte* p, Vector256<float> d) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)) * d;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScalesI8(sbyte* p, Vector256<float> d) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)) * d;

    private interface IBits { static abstract bool HasFifth { get; } }
    private struct Four : IBits { public static bool HasFifth => false; }
    private struct Five : IBits { public static bool HasFifth => true; }

    /// <summary>Q4_K, or Q5_K where TB is <see cref="Five"/>: the same record plus a fifth bit per code.</summary>
    private struct Q45K<TB> : IPackedKernel where TB : struct, IBits
    {
        public static int ChunkBlocks => KChunkQ4K;
        public static int ActBytes(int rows) => ActKBytes(rows);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
            => Tile<TN>(w.Codes + block * w.CodeBytes, len, act, y, yStride, add, stream);

        /// <summary>8 weight rows × TN activation rows of one tile → y[k·yStride + 0..7] (or += where add).</summary>
        public static void Tile<TN>(byte* w, int nsb, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
        {
            int n = TN.N;
            int groupBytes = TB.HasFifth ? PackedWeights.Q5KGroupBytes : PackedWeights.Q4KGroupBytes;
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
            var m15 = Vector256.Create((byte)15);
            for (int sb = 0; sb < nsb; sb++, w += groupBytes, act += ActKBytes(n))
            {
                PrefetchAhead(w, groupBytes, stream);
                var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
                var s4 = s0; var s5 = s0; var s6 = s0; var s7 = s0;
                var d = Vector256.Load((float*)(w + PackedWeights.Q4KD));
                for (int t = 0; t < 8; t++)
                {
                    // Sub-block t: chunk t / 2, low nibbles for even t, high for odd.
                    byte* v = w + 256 * (t >> 1);
                    Vector256<byte> w0, w1, w2, w3, w4, w5, w6, w7;
                    if ((t & 1) == 0)
                    {
                        w0 = Vector256.Load(v) & m15; w1 = Vector256.Load(v + 32) & m15;
                        w2 = Vector256.Load(v + 64) & m15; w3 = Vector256.Load(v + 96) & m15;
                        w4 = Vector256.Load(v + 128) & m15; w5 = Vector256.Load(v + 160) & m15;
                        w6 = Vector256.Load(v + 192) & m15; w7 = Vector256.Load(v + 224) & m15;
                    }
                    else
                    {
                        w0 = HighNibbles(Vector256.Load(v), m15); w1 = HighNibbles(Vector256.Load(v + 32), m15);
                        w2 = HighNibbles(Vector256.Load(v + 64), m15); w3 = HighNibbles(Vector256.Load(v + 96), m15);
                        w4 = HighNibbles(Vector256.Load(v + 128), m15); w5 = HighNibbles(Vector256.Load(v + 160), m15);
                        w6 = HighNibbles(Vector256.Load(v + 192), m15); w7 = HighNibbles(Vector256.Load(v + 224), m15);
                    }
                    if (TB.HasFifth)
                    {
                        byte* hb = w + PackedWeights.Q5KHigh;
                        w0 |= FifthBit(hb, t); w1 |= FifthBit(hb + 32, t); w2 |= FifthBit(hb + 64, t); w3 |= FifthBit(hb + 96, t);
                        w4 |= FifthBit(hb + 128, t); w5 |= FifthBit(hb + 160, t); w6 |= FifthBit(hb + 192, t); w7 |= FifthBit(hb + 224, t);
                    }
                    var sc = ScalesU8(w + PackedWeights.Q4KScales + 8 * t, d);
                    sbyte* q = (sbyte*)act + 32 * t;
                    s0 = Fold(s0, Dot32(q, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 1) s1 = Fold(s1, Dot32(q + 256, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 2) s2 = Fold(s2, Dot32(q + 512, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 3) s3 = Fold(s3, Dot32(q + 768, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 4) s4 = Fold(s4, Dot32(q + 1024, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 5) s5 = Fold(s5, Dot32(q + 1280, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 6) s6 = Fold(s6, Dot32(q + 1536, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 7) s7 = Fold(s7, Dot32(q + 1792, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                }
                // Mins: lane r of pair vector i holds row r's (min 2i, min 2i+1) as i16.
                byte* mins = w + PackedWeights.Q4KMins;
                var m0 = Avx2.ConvertToVector256Int16(mins).AsInt16(); var m1 = Avx2.ConvertToVector256Int16(mins + 16).AsInt16();
                var m2 = Avx2.ConvertToVector256Int16(mins + 32).AsInt16(); var m3 = Avx2.ConvertToVector256Int16(mins + 48).AsInt16();
                var negDmin = -Vector256.Load((float*)(w + PackedWeights.Q4KDmin));
                float* dx = (float*)(act + ActKD(n));
                short* sums = (short*)(act + ActKSums(n));
                a0 = Close(a0, s0, m0, m1, m2, m3, sums, negDmin, dx[0]);
                if (n > 1) a1 = Close(a1, s1, m0, m1, m2, m3, sums + 8, negDmin, dx[1]);
                if (n > 2) a2 = Close(a2, s2, m0, m1, m2, m3, sums + 16, negDmin, dx[2]);
                if (n > 3) a3 = Close(a3, s3, m0, m1, m2, m3, sums + 24, negDmin, dx[3]);
                if (n > 4) a4 = Close(a4, s4, m0, m1, m2, m3, sums + 32, negDmin, dx[4]);
                if (n > 5) a5 = Close(a5, s5, m0, m1, m2, m3, sums + 40, negDmin, dx[5]);
                if (n > 6) a6 = Close(a6, s6, m0, m1, m2, m3, sums + 48, negDmin, dx[6]);
                if (n > 7) a7 = Close(a7, s7, m0, m1, m2, m3, sums + 56, negDmin, dx[7]);
            }
            Finish(a0, y, add);
            if (n > 1) Finish(a1, y + yStride, add);
            if (n > 2) Finish(a2, y + 2 * yStride, add);
            if (n > 3) Finish(a3, y + 3 * yStride, add);
            if (n > 4) Finish(a4, y + 4 * yStride, add);
            if (n > 5) Finish(a5, y + 5 * yStride, add);
            if (n > 6) Finish(a6, y + 6 * yStride, add);
            if (n > 7) Finish(a7, y + 7 * yStride, add);
        }

        /// <summary>Bit t of each byte at p, as bit 4 (0x10): one GFNI transform whose only row picks bit t.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<byte> FifthBit(byte* p, int t)
        {
            var h = Vector256.Load(p);
            if (Gfni.V256.IsSupported)
                return Gfni.V256.GaloisFieldAffineTransform(h, Vector256.Create(1UL << (24 + t)).AsByte(), 0);
            var moved = t <= 4 ? Vector256.ShiftLeft(h.AsUInt16(), 4 - t) : Vector256.ShiftRightLogical(h.AsUInt16(), t - 4);
            return moved.AsByte() & Vector256.Create((byte)0x10);
        }

        /// <summary>acc += dx · (s − dmin · Σ min_j · (sum of the activation's sub-block j)).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Close(Vector256<float> acc, Vector256<float> s, Vector256<short> m0,
            Vector256<short> m1, Vector256<short> m2, Vector256<short> m3, short* sums, Vector256<float> negDmin, float dx)
        {
            Vector256<int> ms;
            if (AvxVnni.IsSupported)
            {
                ms = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, m0, Bcast16(sums));
                ms = AvxVnni.MultiplyWideningAndAdd(ms, m1, Bcast16(sums + 2));
                ms = AvxVnni.MultiplyWideningAndAdd(ms, m2, Bcast16(sums + 4));
                ms = AvxVnni.MultiplyWideningAndAdd(ms, m3, Bcast16(sums + 6));
            }
            else
            {
                ms = (Avx2.MultiplyAddAdjacent(m0, Bcast16(sums)) + Avx2.MultiplyAddAdjacent(m1, Bcast16(sums + 2)))
                   + (Avx2.MultiplyAddAdjacent(m2, Bcast16(sums + 4)) + Avx2.MultiplyAddAdjacent(m3, Bcast16(sums + 6)));
            }
            return Fma.MultiplyAdd(Fold(s, ms, negDmin), Vector256.Create(dx), acc);
        }
    }

    private struct Q6K : IPackedKernel
    {
        public static int ChunkBlocks => KChunkQ6K;
        public static int ActBytes(int rows) => ActKBytes(rows);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
            => Tile<TN>(w.Codes + block * w.CodeBytes, len, act, y, yStride, add, stream);

        /// <summary>8 weight rows × TN activation rows of one tile → y[k·yStride + 0..7] (or += where add).</summary>
        public static void Tile<TN>(byte* w, int nsb, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
        {
            int n = TN.N;
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
            var m63 = Vector256.Create((byte)63);
            for (int sb = 0; sb < nsb; sb++, w += PackedWeights.Q6KGroupBytes, act += ActKBytes(n))
            {
                PrefetchAhead(w, PackedWeights.Q6KGroupBytes, stream);
                var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
                var s4 = s0; var s5 = s0; var s6 = s0; var s7 = s0;
                var d = Vector256.Load((float*)(w + PackedWeights.Q6KD));
                for (int t = 0; t < 8; t++)
                {
                    // Sub-block t = 4h + k: X, Y, Z planes of half h.
                    byte* v = w + 768 * (t >> 2);
                    int k = t & 3;
                    Vector256<byte> w0, w1, w2, w3, w4, w5, w6, w7;
                    if (k == 2)
                    {
                        w0 = Code2(v); w1 = Code2(v + 32); w2 = Code2(v + 64); w3 = Code2(v + 96);
                        w4 = Code2(v + 128); w5 = Code2(v + 160); w6 = Code2(v + 192); w7 = Code2(v + 224);
                    }
                    else
                    {
                        byte* u = v + (k == 3 ? 512 : 256 * k);
                        w0 = Vector256.Load(u) & m63; w1 = Vector256.Load(u + 32) & m63;
                        w2 = Vector256.Load(u + 64) & m63; w3 = Vector256.Load(u + 96) & m63;
                        w4 = Vector256.Load(u + 128) & m63; w5 = Vector256.Load(u + 160) & m63;
                        w6 = Vector256.Load(u + 192) & m63; w7 = Vector256.Load(u + 224) & m63;
                    }
                    var scA = ScalesI8((sbyte*)w + PackedWeights.Q6KScales + 16 * t, d);
                    var scB = ScalesI8((sbyte*)w + PackedWeights.Q6KScales + 16 * t + 8, d);
                    sbyte* q = (sbyte*)act + 32 * t;
                    int* st = (int*)(act + ActKStarts(n)) + 2 * t;
                    s0 = Step(s0, q, st, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 1) s1 = Step(s1, q + 256, st + 16, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 2) s2 = Step(s2, q + 512, st + 32, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 3) s3 = Step(s3, q + 768, st + 48, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 4) s4 = Step(s4, q + 1024, st + 64, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 5) s5 = Step(s5, q + 1280, st + 80, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 6) s6 = Step(s6, q + 1536, st + 96, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 7) s7 = Step(s7, q + 1792, st + 112, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                }
                float* dx = (float*)(act + ActKD(n));
                a0 = Fma.MultiplyAdd(s0, Vector256.Create(dx[0]), a0);
                if (n > 1) a1 = Fma.MultiplyAdd(s1, Vector256.Create(dx[1]), a1);
                if (n > 2) a2 = Fma.MultiplyAdd(s2, Vector256.Create(dx[2]), a2);
                if (n > 3) a3 = Fma.MultiplyAdd(s3, Vector256.Create(dx[3]), a3);
                if (n > 4) a4 = Fma.MultiplyAdd(s4, Vector256.Create(dx[4]), a4);
                if (n > 5) a5 = Fma.MultiplyAdd(s5, Vector256.Create(dx[5]), a5);
                if (n > 6) a6 = Fma.MultiplyAdd(s6, Vector256.Create(dx[6]), a6);
                if (n > 7) a7 = Fma.MultiplyAdd(s7, Vector256.Create(dx[7]), a7);
            }
            Finish(a0, y, add);
            if (n > 1) Finish(a1, y + yStride, add);
            if (n > 2) Finish(a2, y + 2 * yStride, add);
            if (n > 3) Finish(a3, y + 3 * yStride, add);
            if (n > 4) Finish(a4, y + 4 * yStride, add);
            if (n > 5) Finish(a5, y + 5 * yStride, add);
            if (n > 6) Finish(a6, y + 6 * yStride, add);
            if (n > 7) Finish(a7, y + 7 * yStride, add);
        }

        /// <summary>One activation row's sub-block: two 16-groups, each its own chain, scale and −32·Σq start.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Step(Vector256<float> s, sbyte* q, int* st, Vector256<byte> w0,
            Vector256<byte> w1, Vector256<byte> w2, Vector256<byte> w3, Vector256<byte> w4, Vector256<byte> w5,
            Vector256<byte> w6, Vector256<byte> w7, Vector256<float> scA, Vector256<float> scB)
        {
            var da = Dot16(st, q, w0, w1, w2, w3);
            var db = Dot16(st + 1, q + 16, w4, w5, w6, w7);
            return Fold(Fold(s, da, scA), db, scB);
        }

        /// <summary>Code 2 of the X, Y, Z bytes at p, p + 256, p + 512: their top two bits, as bits 0-1, 2-3, 4-5.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<byte> Code2(byte* p)
        {
            var x = Vector256.Load(p); var y = Vector256.Load(p + 256); var z = Vector256.Load(p + 512);
            if (Gfni.V256.IsSupported)
                return Gfni.V256.GaloisFieldAffineTransform(x, Vector256.Create(Top2To0Matrix).AsByte(), 0)
                     | Gfni.V256.GaloisFieldAffineTransform(y, Vector256.Create(Top2To2Matrix).AsByte(), 0)
                     | Gfni.V256.GaloisFieldAffineTransform(z, Vector256.Create(Top2To4Matrix).AsByte(), 0);
            return (Vector256.ShiftRightLogical(x.AsUInt16(), 6).AsByte() & Vector256.Create((byte)0x03))
                 | (Vector256.ShiftRightLogical(y.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0c))
                 | (Vector256.ShiftRightLogical(z.AsUInt16(), 2).AsByte() & Vector256.Create((byte)0x30));
        }

        /// <summary>GF(2) matrices moving input bits 6, 7 to output bits 0-1, 2-3, 4-5 (output bit i: matrix byte 7 − i).</summary>
        private const ulong Top2To0Matrix = 0x4080000000000000, Top2To2Matrix = 0x0000408000000000, Top2To4Matrix = 0x0000000040800000;
    }
}
