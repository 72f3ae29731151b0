using System.Buffers;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Quantization;

/// <summary>Whole matrices to another encoding: each row decoded to f32 and encoded by <see cref="ReferenceQuantizer"/>, rows in parallel.</summary>
public static class MatrixQuantizer
{
    /// <summary>Encodes every row of <paramref name="source"/> as <paramref name="target"/> into <paramref name="destination"/> (rows back to back).</summary>
    public static void QuantizeRows(WeightMatrix source, GgmlType target, Memory<byte> destination, int rowStart = 0, int rowCount = -1)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (rowCount < 0) rowCount = source.Rows - rowStart;
        long rowBytes = GgmlTypeInfo.ByteCount(target, source.Cols);
        if (destination.Length < rowBytes * rowCount)
            throw new ArgumentException($"tensor '{source.Name}': {rowCount} rows of {target} need {rowBytes * rowCount} bytes, the destination has {destination.Length}");
        if (source.Cols % GgmlTypeInfo.BlockSize(target) != 0)
            throw new ArgumentException($"tensor '{source.Name}': {source.Cols} columns do not fill whole {target} blocks of {GgmlTypeInfo.BlockSize(target)}");
        Parallel.For(0, rowCount,
            () => ArrayPool<float>.Shared.Rent(source.Cols),
            (row, _, values) =>
            {
                var floats = values.AsSpan(0, source.Cols);
                MatMul.DequantizeRow(source, rowStart + row, floats);
                ReferenceQuantizer.QuantizeRow(target, floats, destination.Span.Slice(checked((int)(row * rowBytes)), (int)rowBytes));
                return values;
            },
            values => ArrayPool<float>.Shared.Return(values));
    }

    /// <summary>A new matrix in <paramref name="target"/> encoding, over a pinned array it owns.</summary>
    public static unsafe WeightMatrix Quantize(WeightMatrix source, GgmlType target)
    {
        ArgumentNullException.ThrowIfNull(source);
        long bytes = GgmlTypeInfo.ByteCount(target, (long)source.Rows * source.Cols);
        if (bytes > Array.MaxLength)
            throw new NotSupportedException($"tensor '{source.Name}' takes {bytes} bytes as {target}, more than one buffer holds; quantize the file ahead of time (inkwell quantize)");
        var data = GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true);
        QuantizeRows(source, target, data);
        fixed (byte* p = data) return new WeightMatrix(source.Name, target, source.Rows, source.Cols, p, data);
    }
}
