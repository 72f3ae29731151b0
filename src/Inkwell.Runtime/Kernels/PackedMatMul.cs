using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// The GEMM over <see cref="PackedWeights"/>: a tile of 8 weight rows × up to 4 activation rows per 32-block.
/// Each weight vector is loaded (and for Q4_0 unpacked) once per block for the whole tile; each activation row
/// adds one int32 vector per block, started at the weight offset's share (−8·Σq for Q4_0, −128·Σq for Q8_0 with
/// VNNI: exact integers, so the unsigned codes need no correction afterwards; −16·Σq for Q5_0), then converted and
/// scaled by the 8 rows' block scales times the row's activation scale into an 8-lane f32 accumulator: 8 contiguous
/// outputs at the end. On AVX2 + FMA, for row counts that are a multiple of 8; <see cref="MatMul"/> keeps everything
/// else. Without AVX-VNNI a 4-byte dot step is vpmaddubsw (pairs into i16) and the pairs of several steps are summed
/// in i16 and widened by one vpmaddwd: exact while the codes are small (Q4_0, Q5_0, Q4_K, Q5_K, Q6_K: at most 63).
/// Q8_0 is packed signed there instead and runs <see cref="SignedTile"/> (ggml's mul_sum_i8_pairs): |q| ≤ 128
/// against the activation carrying q's sign (vpsignb), each step widened alone.
/// </summary>
[SkipLocalsInit]
internal static unsafe partial class PackedMatMul
{
    /// <summary>
    /// Activation rows per tile. The weight vectors and the running int32 dot need ymm0-15 (VEX vpdpbusd); the
    /// f32 accumulators are only touched by EVEX-encodable instructions, so on AVX-512 hardware they take ymm16-31
    /// (on AVX2 alone some of them live on the stack).
    /// </summary>
    private const int TileN = 8;

    /// <summary>
    /// Blocking for L1: GroupTile row groups × KChunk Q8_0 blocks (2·KChunk for Q4_0) of codes, 16 KiB, meet each
    /// activation tile (TileN rows × the same blocks, 5 KiB) in turn, so every activation byte loaded from L2 feeds
    /// GroupTile groups and every code byte all N rows.
    /// </summary>
    private const int KChunk = 16, GroupTile = 4;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>True where <see cref="MatMul.Multiply(WeightMatrix, ReadOnlySpan{float}, Span{float}, int, WorkerPool)"/> takes this path for w.</summary>
    public static bool Applies(WeightMatrix w) => IsSupported && CanPack(w);

    public static bool CanPack(WeightMatrix w)
        => w.Type is GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K
           && w.Rows > 0 && w.Rows % 8 == 0 && w.Cols > 0;

    /// <summary>Marks a matrix whose packing was refused (an inf/nan block scale): it stays on MatMul's path.</summary>
    private static readonly object s_unpackable = new();

    /// <summary>
    /// The packed copy of w, made on first use (racing callers may both pack; one copy wins), or null where a
    /// block scale is inf/nan (the kernel's f16 conversion assumes finite scales).
    /// </summary>
    public static PackedWeights? Packed(WeightMatrix w)
    {
        var p = Volatile.Read(ref w.PackedCopy);
        if (p == null)
        {
            object made = PackedWeights.TryCreate(w) ?? s_unpackable;
            p = Interlocked.CompareExchange(ref w.PackedCopy, made, null);
            if (p == null) p = made;
            else (made as PackedWeights)?.Dispose();
        }
        return p as PackedWeights;
    }

    /// <summary>
    /// y[n, w.Rows] = x[n, w.Cols] · wᵀ on the packed path, arguments already checked by MatMul; false (nothing
    /// done) where w does not take this path.
    /// </summary>
    public static bool TryMultiply(WeightMatrix w, float* x, float* y, int n, WorkerPool pool)
    {
        if (!Applies(w)) return false;
        var packed = Packed(w);
        if (packed == null) return false;
        int cols = w.Cols;
        bool k = PackedWeights.IsKQuant(w.Type);
        var body = new Body
        {
            W = packed, Rows = w.Rows, Cols = cols, N = n, X = x, Y = y,
            Offset = w.Type switch { GgmlType.Q4_0 => -8, GgmlType.Q5_0 => -16, GgmlType.Q8_0 => -PackedWeights.Q8Bias, _ => 0 }, K = k,
        };
        if (pool.IsCurrentThreadInside)
        {
            // Inside a body of this pool: run here alone on this thread's scratch (see MatMul.Multiply).
            nuint need = ScratchBytes(cols, n, k);
            if (need > t_scratchBytes)
            {
                if (t_scratch != null) NativeMemory.AlignedFree(t_scratch);
                t_scratchBytes = Math.Max(need, t_scratchBytes * 2);
                t_scratch = (byte*)NativeMemory.AlignedAlloc(t_scratchBytes, 64);
            }
            body.Act = t_scratch;
            new QuantizeBody { Body = body }.Invoke(0, n);
            body.Invoke(0, packed.RowGroups);
            return true;
        }
        lock (pool.ScratchLock)
        {
            body.Act = pool.Scratch(ScratchBytes(cols, n, k));
            var qb = new QuantizeBody { Body = body };
            ActivationQuantization.RunRows(pool, n, ref qb);
            pool.Run(packed.RowGroups, ref body);
        }
        return true;
    }

    [ThreadStatic] private static byte* t_scratch;
    [ThreadStatic] private static nuint t_scratchBytes;

    /// <summary>
    /// Activations are stored tiled for the kernel: per tile of h rows (TileN, or fewer in the last tile) and per
    /// 32-block, the rows' codes (h × 32 bytes), their scales d (h × f32) and their dot starts offset·Σq (h × i32), so
    /// a tile walks one pointer forward through consecutive memory. Sized by the tile's own rows, not TileN: a decode
    /// row packs 40 bytes per block where a TileN-row layout spread its bytes over three cache lines, and the
    /// activations of an 8192-column down projection (48 KiB that way, 10 KiB this way) no longer overflow L1.
    /// </summary>
    private static int ActBlockBytes(int rows) => ActStarts(rows) + rows * 4;

    /// <summary>Where a tile of h rows keeps its blocks' scales d and dot starts, from the block's start.</summary>
    private static int ActD(int rows) => rows * 32;
    private static int ActStarts(int rows) => ActD(rows) + rows * 4;

    /// <summary>Rows in the activation tile that holds row i of n.</summary>
    private static int TileRows(int i, int n) => Math.Min(TileN, n - i / TileN * TileN);

    private static nuint ScratchBytes(int cols, int n, bool k) => (nuint)((n + TileN - 1) / TileN)
        * (k ? (nuint)(cols / 256) * (nuint)ActKBytes(TileN) : (nuint)(cols / 32) * (nuint)ActBlockBytes(TileN));

    // ================================================================ activations

    private struct QuantizeBody : IRangeBody
    {
        public Body Body;

        public void Invoke(int start, int end)
        {
            int cols = Body.Cols, nb = cols / 32;
            if (Body.K)
            {
                for (int i = start; i < end; i++)
                    QuantizeRowK(Body.X + (long)i * cols, cols, Body.Act + (long)(i / TileN) * (cols / 256) * ActKBytes(TileN), i % TileN, TileRows(i, Body.N));
                return;
            }
            for (int i = start; i < end; i++)
                QuantizeRow(Body.X + (long)i * cols, cols, Body.Act + (long)(i / TileN) * nb * ActBlockBytes(TileN), i % TileN, TileRows(i, Body.N), Body.Offset);
        }
    }

    /// <summary>
    /// Blocks of 32 as ActivationQuantization.QuantizeQ8 (d = max|x| / 127, q = round(x / d), the same rounding), plus the
    /// integer start of each block's dot: offset·Σq, offset being the weights' code bias (−8, −16, −128 or 0). Writes
    /// slot k of each block of the activation tile of tileRows rows at act.
    /// </summary>
    private static void QuantizeRow(float* x, int cols, byte* act, int k, int tileRows, int offset)
    {
        for (int b = 0; b < cols / 32; b++, x += 32, act += ActBlockBytes(tileRows))
        {
            var v0 = Vector256.Load(x); var v1 = Vector256.Load(x + 8);
            var v2 = Vector256.Load(x + 16); var v3 = Vector256.Load(x + 24);
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)),
                                  Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
            var h = Vector128.Max(m.GetLower(), m.GetUpper());
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
            float amax = h.ToScalar();
            float id = amax == 0 ? 0 : 127f / amax;
            var vid = Vector256.Create(id);
            var i0 = Avx.ConvertToVector256Int32(v0 * vid); var i1 = Avx.ConvertToVector256Int32(v1 * vid);
            var i2 = Avx.ConvertToVector256Int32(v2 * vid); var i3 = Avx.ConvertToVector256Int32(v3 * vid);
            Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store((sbyte*)act + 32 * k);
            ((float*)(act + ActD(tileRows)))[k] = amax / 127f;
            ((int*)(act + ActStarts(tileRows)))[k] = offset * Vector256.Sum((i0 + i1) + (i2 + i3));
        }
    }

    // ================================================================ the kernel


    private partial struct Body : IRangeBody
    {
        public PackedWeights W;
        public int Rows, Cols, N, Offset;
        public bool K; // Q4_K / Q5_K / Q6_K: super-blocks of 256, see PackedMatMul.KQuants.cs
        public float* X, Y;
        public byte* Act; // tiled quantized activations, see ActBlockBytes

        /// <summary>
        /// Row groups [start, end), blocked as described at <see cref="KChunk"/>; later K chunks add to the
        /// outputs the first one stored.
        /// </summary>
        public readonly void Invoke(int start, int end)
        {
            switch (W.Type)
            {
                case GgmlType.Q4_0: Blocked<Q4>(start, end); break;
                case GgmlType.Q5_0: Blocked<Q5>(start, end); break;
                case GgmlType.Q8_0: Blocked<Q8>(start, end); break;
                case GgmlType.Q4_K: Blocked<Q45K<Four>>(start, end); break;
                case GgmlType.Q5_K: Blocked<Q45K<Five>>(start, end); break;
                default: Blocked<Q6K>(start, end); break;
            }
        }

        private readonly void Blocked<TK>(int start, int end) where TK : struct, IPackedKernel
        {
            int nb = W.Blocks;
            // One activation tile (decode, small batches): it stays cached whole, and the weights are the stream;
            // each group's blocks are walked in one pass, so the prefetchers see one long sequential read instead
            // of a restart at every chunk (a chunk is about a 4 KiB page).
            bool stream = N <= TileN;
            int chunk = stream ? nb : TK.ChunkBlocks;
            for (int g0 = start; g0 < end; g0 += GroupTile)
            {
                int g1 = Math.Min(end, g0 + GroupTile);
                for (int c0 = 0; c0 < nb; c0 += chunk)
                {
                    int len = Math.Min(chunk, nb - c0);
                    bool add = c0 > 0;
                    for (int i = 0; i < N; i += TileN)
                    {
                        int rows = Math.Min(TileN, N - i);
                        byte* act = Act + (long)(i / TileN) * nb * TK.ActBytes(TileN) + (long)c0 * TK.ActBytes(rows);
                        for (int g = g0; g < g1; g++)
                            Dispatch<TK>(rows, W, (long)g * nb + c0, len, act, Y + (long)i * Rows + 8L * g, Rows, add, stream);
                    }
                }
            }
        }
    }

    /// <summary>
    /// One packed encoding's tile kernel and its blocking; <see cref="Body.Invoke"/>'s loop nest serves them all.
    /// </summary>
    private interface IPackedKernel
    {
        /// <summary>Blocks (32-blocks or 256-super-blocks) per K chunk, see <see cref="KChunk"/>.</summary>
        static abstract int ChunkBlocks { get; }
        /// <summary>Bytes per block of an activation tile of the given rows.</summary>
        static abstract int ActBytes(int rows);
        /// <summary>Row group blocks [block, block + len) (block counted from the matrix start) against TN activation rows.</summary>
        static abstract void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount;
    }

    private static void Dispatch<TK>(int n, PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream)
        where TK : struct, IPackedKernel
    {
        switch (n)
        {
            case 8: TK.Run<N8>(w, block, len, act, y, yStride, add, stream); break;
            case 7: TK.Run<N7>(w, block, len, act, y, yStride, add, stream); break;
            case 6: TK.Run<N6>(w, block, len, act, y, yStride, add, stream); break;
            case 5: TK.Run<N5>(w, block, len, act, y, yStride, add, stream); break;
            case 4: TK.Run<N4>(w, block, len, act, y, yStride, add, stream); break;
            case 3: TK.Run<N3>(w, block, len, act, y, yStride, add, stream); break;
            case 2: TK.Run<N2>(w, block, len, act, y, yStride, add, stream); break;
            default: TK.Run<N1>(w, block, len, act, y, yStride, add, stream); break;
        }
    }

    /// <summary>
    /// How far ahead of the codes being read a streaming tile (one activation tile: each code byte is read once)
    /// prefetches. Non-temporal, into L1 without displacing the activations there, as <see cref="FloatGemv"/>; the
    /// group's codes are one sequential stream that continues into the next group's.
    /// </summary>
    private const int StreamAhead = 2048;

    /// <summary>Prefetches the bytes at p + <see cref="StreamAhead"/> (the caller's block or super-block), where streaming.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchAhead(byte* p, int bytes, bool stream)
    {
        if (!stream) return;
        for (int b = 0; b < bytes; b += 64) Sse.PrefetchNonTemporal(p + StreamAhead + b);
    }

    /// <summary>The 8 weight vectors of one group-block, vector j pairing with activation bytes 4j..4j+3.</summary>
    private interface ICodes
    {
        static abstract int Bytes { get; }
        /// <summary>The largest code: without VNNI, how many steps' i16 pair sums may be added before widening.</summary>
        static abstract int MaxCode { get; }
        static abstract void Load(byte* c, out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2,
            out Vector256<byte> w3, out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7);
    }

    /// <summary>Q4_0: vector p's low nibbles are codes 4p..4p+3, its high nibbles codes 16+4p..16+4p+3.</summary>
    private struct Q4 : ICodes, IPackedKernel
    {
        public static int Bytes => 128;
        public static int MaxCode => 15;
        public static int ChunkBlocks => 2 * KChunk;
        public static int ActBytes(int rows) => ActBlockBytes(rows);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
            => Tile<Q4, TN>(w.Codes + block * Bytes, w.Scales + block * 8, len, act, y, yStride, add, stream);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* c, out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2,
            out Vector256<byte> w3, out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7)
        {
            var m15 = Vector256.Create((byte)15);
            var v0 = Vector256.Load(c); var v1 = Vector256.Load(c + 32);
            var v2 = Vector256.Load(c + 64); var v3 = Vector256.Load(c + 96);
            w0 = v0 & m15; w1 = v1 & m15; w2 = v2 & m15; w3 = v3 & m15;
            w4 = HighNibbles(v0, m15); w5 = HighNibbles(v1, m15); w6 = HighNibbles(v2, m15); w7 = HighNibbles(v3, m15);
        }
    }

    /// <summary>Each byte's high nibble: one GFNI affine transform (a per-byte bit matrix) where available.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> HighNibbles(Vector256<byte> v, Vector256<byte> m15)
        => Gfni.V256.IsSupported
            ? Gfni.V256.GaloisFieldAffineTransform(v, Vector256.Create(ShiftRight4Matrix).AsByte(), 0)
            : Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & m15;

    /// <summary>GF(2) matrix for x ↦ x &gt;&gt; 4: output bit i (matrix byte 7 − i) takes input bit i + 4.</summary>
    private const ulong ShiftRight4Matrix = 0x1020408000000000;

    /// <summary>
    /// Q5_0: Q4_0's 128 code bytes, then the fifth bits as one u32 per row (32 bytes, see PackedWeights): vector
    /// p's low-nibble codes take bit 4 + p of each byte, its high-nibble codes bit p, moved to bit 4 by one 16-bit
    /// shift (the bits stay inside their byte) and an AND; so a block costs what the source does, 22 bytes a row.
    /// </summary>
    private struct Q5 : ICodes, IPackedKernel
    {
        public static int Bytes => 160;
        public static int MaxCode => 31;
        public static int ChunkBlocks => 2 * KChunk;
        public static int ActBytes(int rows) => ActBlockBytes(rows);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
            => Tile<Q5, TN>(w.Codes + block * Bytes, w.Scales + block * 8, len, act, y, yStride, add, stream);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* c, out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2,
            out Vector256<byte> w3, out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7)
        {
            // Q4_0's nibbles, then each code's fifth bit moved to bit 4.
            Q4.Load(c, out w0, out w1, out w2, out w3, out w4, out w5, out w6, out w7);
            var m16 = Vector256.Create((byte)0x10);
            var h = Vector256.Load((ushort*)(c + 128));
            w0 |= h.AsByte() & m16;
            w1 |= Vector256.ShiftRightLogical(h, 1).AsByte() & m16;
            w2 |= Vector256.ShiftRightLogical(h, 2).AsByte() & m16;
            w3 |= Vector256.ShiftRightLogical(h, 3).AsByte() & m16;
            w4 |= Vector256.ShiftLeft(h, 4).AsByte() & m16;
            w5 |= Vector256.ShiftLeft(h, 3).AsByte() & m16;
            w6 |= Vector256.ShiftLeft(h, 2).AsByte() & m16;
            w7 |= Vector256.ShiftLeft(h, 1).AsByte() & m16;
        }
    }

    /// <summary>Q8_0: codes + 128, stored as vpdpbusd uses them; without VNNI the signed codes, see <see cref="SignedTile"/>.</summary>
    private struct Q8 : ICodes, IPackedKernel
    {
        public static int Bytes => 256;
        public static int MaxCode => 255;
        public static int ChunkBlocks => KChunk;
        public static int ActBytes(int rows) => ActBlockBytes(rows);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add, bool stream) where TN : struct, ICount
        {
            if (AvxVnni.IsSupported) Tile<Q8, TN>(w.Codes + block * Bytes, w.Scales + block * 8, len, act, y, yStride, add, stream);
            else SignedTile<TN>(w.Codes + block * Bytes, w.Scales + block * 8, len, act, y, yStride, add, stream);
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* c, out Vector256<byte> w0, out Vector256<byte> w1, out Vector256<byte> w2,
            out Vector256<byte> w3, out Vector256<byte> w4, out Vector256<byte> w5, out Vector256<byte> w6, out Vector256<byte> w7)
        {
            w0 = Vector256.Load(c); w1 = Vector256.Load(c + 32); w2 = Vector256.Load(c + 64); w3 = Vector256.Load(c + 96);
            w4 = Vector256.Load(c + 128); w5 = Vector256.Load(c + 160); w6 = Vector256.Load(c + 192); w7 = Vector256.Load(c + 224);
        }
    }

    /// <summary>Four activation bytes at p, in every int32 lane (a vpbroadcastd from memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Bcast(sbyte* p) => Vector256.Create(Unsafe.ReadUnaligned<int>(p)).AsSByte();

    /// <summary>Without VNNI: the u8·i8 products of one dot step summed in pairs (vpmaddubsw), i16 lane 2r + k of int32 lane r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Pairs(Vector256<byte> w, sbyte* q) => Avx2.MultiplyAddAdjacent(w, Bcast(q));

    /// <summary>Without VNNI: i16 pair sums to int32 lanes (vpmaddwd by ones).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen(Vector256<short> pairs) => Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));

    /// <summary>
    /// One activation row's 32 codes q against the 8 weight vectors: lane r ends with row r's block dot plus
    /// *start. One chain of eight vpdpbusd: the tile's rows and the next block give the core independent work.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> BlockDot<TW>(int* start, sbyte* q, Vector256<byte> w0, Vector256<byte> w1,
        Vector256<byte> w2, Vector256<byte> w3, Vector256<byte> w4, Vector256<byte> w5, Vector256<byte> w6,
        Vector256<byte> w7) where TW : struct, ICodes
    {
        if (!AvxVnni.IsSupported)
        {
            // Q8_0 runs SignedTile instead. Each step's pair sums are at most 2·MaxCode·127: eight of them fit i16
            // for Q4_0 (30480), four for Q5_0 (31496).
            var lo = (Pairs(w0, q) + Pairs(w1, q + 4)) + (Pairs(w2, q + 8) + Pairs(w3, q + 12));
            var hi = (Pairs(w4, q + 16) + Pairs(w5, q + 20)) + (Pairs(w6, q + 24) + Pairs(w7, q + 28));
            return TW.MaxCode <= 15 ? Vector256.Create(*start) + Widen(lo + hi)
                : Vector256.Create(*start) + (Widen(lo) + Widen(hi));
        }
        var a = AvxVnni.MultiplyWideningAndAdd(Vector256.Create(*start), w0, Bcast(q));
        a = AvxVnni.MultiplyWideningAndAdd(a, w1, Bcast(q + 4));
        a = AvxVnni.MultiplyWideningAndAdd(a, w2, Bcast(q + 8));
        a = AvxVnni.MultiplyWideningAndAdd(a, w3, Bcast(q + 12));
        a = AvxVnni.MultiplyWideningAndAdd(a, w4, Bcast(q + 16));
        a = AvxVnni.MultiplyWideningAndAdd(a, w5, Bcast(q + 20));
        a = AvxVnni.MultiplyWideningAndAdd(a, w6, Bcast(q + 24));
        return AvxVnni.MultiplyWideningAndAdd(a, w7, Bcast(q + 28));
    }

    /// <summary>acc += f32(dot) · (8 weight scales · activation scale).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> acc, Vector256<int> dot, Vector256<float> dw, float dx)
        => Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), dw * Vector256.Create(dx), acc);

    /// <summary>8 weight rows × TN activation rows of one tile → y[k·yStride + 0..7] (or += where add).</summary>
    private static void Tile<TW, TN>(byte* codes, ushort* scales, int nb, byte* act, float* y, int yStride, bool add, bool stream)
        where TW : struct, ICodes where TN : struct, ICount
    {
        int n = TN.N;
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
        for (int b = 0; b < nb; b++, codes += TW.Bytes, scales += 8, act += ActBlockBytes(n))
        {
            PrefetchAhead(codes, TW.Bytes, stream);
            TW.Load(codes, out var w0, out var w1, out var w2, out var w3, out var w4, out var w5, out var w6, out var w7);
            var dw = HalfConversion.FiniteHalfToSingle(Vector128.Load((short*)scales));
            sbyte* q = (sbyte*)act;
            float* d = (float*)(act + ActD(n));
            int* s = (int*)(act + ActStarts(n));
            a0 = Scale(a0, BlockDot<TW>(s, q, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[0]);
            if (n > 1) a1 = Scale(a1, BlockDot<TW>(s + 1, q + 32, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[1]);
            if (n > 2) a2 = Scale(a2, BlockDot<TW>(s + 2, q + 64, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[2]);
            if (n > 3) a3 = Scale(a3, BlockDot<TW>(s + 3, q + 96, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[3]);
            if (n > 4) a4 = Scale(a4, BlockDot<TW>(s + 4, q + 128, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[4]);
            if (n > 5) a5 = Scale(a5, BlockDot<TW>(s + 5, q + 160, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[5]);
            if (n > 6) a6 = Scale(a6, BlockDot<TW>(s + 6, q + 192, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[6]);
            if (n > 7) a7 = Scale(a7, BlockDot<TW>(s + 7, q + 224, w0, w1, w2, w3, w4, w5, w6, w7), dw, d[7]);
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

    /// <summary>
    /// Q8_0 without VNNI, 8 weight rows × TN activation rows → y[k·yStride + 0..7] (or += where add). The codes are
    /// signed: vpmaddubsw takes |q| (≤ 128) and the activation bytes carry q's sign (vpsignb), so a pair sum is at
    /// most 2·128·127 = 32512 and each step is widened at once (two would overflow i16). Step by step over the
    /// tile's rows, so only one weight vector and its |q| are live beside the TN int32 dots: they fit AVX2's 16
    /// registers, where Tile's eight weight vectors would push the dots to the stack; the f32 sums live in L1.
    /// No dot start: the codes carry no bias.
    /// </summary>
    private static void SignedTile<TN>(byte* codes, ushort* scales, int nb, byte* act, float* y, int yStride, bool add, bool stream)
        where TN : struct, ICount
    {
        int n = TN.N;
        float* sums = stackalloc float[8 * TileN];
        for (int k = 0; k < n; k++) Vector256<float>.Zero.Store(sums + 8 * k);
        for (int b = 0; b < nb; b++, codes += Q8.Bytes, scales += 8, act += ActBlockBytes(n))
        {
            PrefetchAhead(codes, Q8.Bytes, stream);
            sbyte* q = (sbyte*)act;
            var d0 = Vector256<int>.Zero; var d1 = d0; var d2 = d0; var d3 = d0;
            var d4 = d0; var d5 = d0; var d6 = d0; var d7 = d0;
            for (int j = 0; j < 32; j += 4)
            {
                var w = Vector256.Load((sbyte*)codes + 8 * j);
                var abs = Avx2.Abs(w);
                d0 += SignedStep(abs, w, q + j);
                if (n > 1) d1 += SignedStep(abs, w, q + 32 + j);
                if (n > 2) d2 += SignedStep(abs, w, q + 64 + j);
                if (n > 3) d3 += SignedStep(abs, w, q + 96 + j);
                if (n > 4) d4 += SignedStep(abs, w, q + 128 + j);
                if (n > 5) d5 += SignedStep(abs, w, q + 160 + j);
                if (n > 6) d6 += SignedStep(abs, w, q + 192 + j);
                if (n > 7) d7 += SignedStep(abs, w, q + 224 + j);
            }
            var dw = HalfConversion.FiniteHalfToSingle(Vector128.Load((short*)scales));
            float* dx = (float*)(act + ActD(n));
            Scale(sums, d0, dw, dx[0]);
            if (n > 1) Scale(sums + 8, d1, dw, dx[1]);
            if (n > 2) Scale(sums + 16, d2, dw, dx[2]);
            if (n > 3) Scale(sums + 24, d3, dw, dx[3]);
            if (n > 4) Scale(sums + 32, d4, dw, dx[4]);
            if (n > 5) Scale(sums + 40, d5, dw, dx[5]);
            if (n > 6) Scale(sums + 48, d6, dw, dx[6]);
            if (n > 7) Scale(sums + 56, d7, dw, dx[7]);
        }
        for (int k = 0; k < n; k++) Finish(Vector256.Load(sums + 8 * k), y + k * yStride, add);
    }

    /// <summary>One signed step: |w| times the four activation bytes at q, each carrying w's sign, summed per int32 lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedStep(Vector256<byte> abs, Vector256<sbyte> w, sbyte* q)
        => Widen(Avx2.MultiplyAddAdjacent(abs, Avx2.Sign(Bcast(q), w)));

    /// <summary>*sum += f32(dot) · (8 weight scales · activation scale), the sum in memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* sum, Vector256<int> dot, Vector256<float> dw, float dx)
        => Scale(Vector256.Load(sum), dot, dw, dx).Store(sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector256<float> acc, float* y, bool add)
        => (add ? acc + Vector256.Load(y) : acc).Store(y);
}
