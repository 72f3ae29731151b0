using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Kernels;

public static unsafe class MatMul
{
    /// <summary>
    /// y[n, w.Rows] = x[n, w.Cols] · wᵀ. x and y are row-major and contiguous. PLACEHOLDER: f32 only, scalar.
    /// </summary>
    public static void Multiply(WeightMatrix w, ReadOnlySpan<float> x, Span<float> y, int n, WorkerPool pool)
    {
        if (w.Type != GgmlType.F32) throw new NotSupportedException($"{w.Type} matmul not yet supported");
        int rows = w.Rows, cols = w.Cols;
        for (int r = 0; r < rows; r++)
        {
            var wr = new ReadOnlySpan<float>(w.Row(r), cols);
            for (int i = 0; i < n; i++)
                y[i * rows + r] = System.Numerics.Tensors.TensorPrimitives.Dot(wr, x.Slice(i * cols, cols));
        }
    }

    /// <summary>Decodes one row of w into dst (length w.Cols), e.g. for an embedding lookup.</summary>
    public static void DequantizeRow(WeightMatrix w, int row, Span<float> dst)
    {
        if (w.Type != GgmlType.F32) throw new NotSupportedException($"{w.Type} rows not yet supported");
        new ReadOnlySpan<float>(w.Row(row), w.Cols).CopyTo(dst);
    }
}
