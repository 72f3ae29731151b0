namespace Inkwell.Runtime.Tensors;

/// <summary>
/// A read-only row-major matrix [Rows, Cols] in any GGML encoding, over memory that someone else owns
/// (a memory-mapped file or a pinned array held by <see cref="Owner"/>). Each row is Cols elements encoded as
/// Cols / BlockSize(Type) blocks, so a row starts at Data + row * RowBytes.
/// </summary>
public sealed unsafe class WeightMatrix
{
    public WeightMatrix(string name, GgmlType type, int rows, int cols, byte* data, object? owner)
    {
        if (cols % GgmlTypeInfo.BlockSize(type) != 0)
            throw new InvalidDataException($"tensor '{name}': {cols} columns do not fill whole {type} blocks");
        Name = name;
        Type = type;
        Rows = rows;
        Cols = cols;
        Data = data;
        Owner = owner;
        RowBytes = GgmlTypeInfo.ByteCount(type, cols);
    }

    public string Name { get; }
    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public byte* Data { get; }
    public long RowBytes { get; }
    public long TotalBytes => RowBytes * Rows;

    /// <summary>Keeps the backing memory alive as long as the view is.</summary>
    public object? Owner { get; }

    public byte* Row(int row) => Data + row * RowBytes;

    /// <summary>Rows [first, first + count) as a matrix of their own over the same memory (a fused QKV's Q part).</summary>
    public WeightMatrix RowSlice(int first, int count)
    {
        if (first < 0 || count <= 0 || first + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(count), $"tensor '{Name}': rows {first}..{first + count} outside its {Rows}");
        return new WeightMatrix($"{Name}[{first}..{first + count}]", Type, count, Cols, Row(first), Owner);
    }

    /// <summary>
    /// A kernel-specific copy of the weights (Kernels.PackedWeights), made on the first Multiply that can use it
    /// and freed by its finalizer with this matrix; <see cref="Data"/> stays the source for row lookups.
    /// </summary>
    internal object? PackedCopy;

    /// <summary>The original's pages were handed back to its <see cref="IReleasableMapping"/> owner after packing.</summary>
    internal bool PagesReleased;

    /// <summary>
    /// For F16: whether any weight is inf/NaN (0 not yet known, <see cref="AllFinite"/>, <see cref="HasNonFinite"/>),
    /// found by the decode kernel's first call (Kernels.FloatGemv), which then picks its cheaper conversion.
    /// </summary>
    internal int HalfFiniteness;

    internal const int AllFinite = 1, HasNonFinite = 2;

    /// <summary>
    /// For BF16: each row's largest |w|, padded to whole 16-row vectors (empty when any weight is inf/NaN or a row's
    /// largest is too small to scale), found at load (Kernels.MatMul.Prepare) or by the int16 panels' first call
    /// (Kernels.FloatGemm) and used to scale every packing of the row.
    /// </summary>
    internal float[]? RowMaxima;

    /// <summary>Wraps a managed float array [rows, cols] (pinned for the matrix's lifetime).</summary>
    public static WeightMatrix FromF32(string name, float[] values, int rows, int cols)
    {
        if (values.Length != (long)rows * cols)
            throw new ArgumentException($"tensor '{name}': {values.Length} values for shape [{rows}, {cols}]");
        var pinned = GC.AllocateArray<float>(values.Length, pinned: true);
        values.CopyTo(pinned, 0);
        fixed (float* p = pinned) return new WeightMatrix(name, GgmlType.F32, rows, cols, (byte*)p, pinned);
    }
}

/// <summary>
/// Implemented by owners of read-only memory-mapped weights: a kernel that has made its own copy of a matrix
/// (see <see cref="WeightMatrix.PackedCopy"/>) hands the original pages back, so resident memory does not hold
/// both. Pages read again later (a row lookup) fault back in from the page cache.
/// </summary>
public unsafe interface IReleasableMapping
{
    /// <summary>Drops this process's resident pages lying wholly inside [start, start + bytes); contents are kept.</summary>
    void ReleasePages(byte* start, long bytes);

    /// <summary>
    /// Copies the mapped bytes at [start, start + destination.Length) from the file itself (a positioned read), so
    /// released pages are not mapped into this process again.
    /// </summary>
    void ReadWithoutMapping(byte* start, Span<byte> destination);
}
