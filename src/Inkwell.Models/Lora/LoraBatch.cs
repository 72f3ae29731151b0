using System.Numerics.Tensors;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Lora;

/// <summary>
/// Which rows of a forward pass use which adapter, grouped by adapter (vLLM's punica idea: gather each adapter's rows
/// and run its two thin GEMMs once over all of them, rather than once per sequence). Built per forward pass by the
/// model; buffers are reused and only grow. Rows of the base model (slot 0) get no delta.
/// </summary>
public sealed class LoraBatch
{
    private int[] _rowSlots = [];          // [T] slot of each row
    private int[] _rowOrder = [];          // [T] rows of adapter rows, grouped by slot
    private readonly List<(int Slot, int Start, int Count)> _groups = [];
    private int _rows;
    private float[] _gathered = [], _low = [], _delta = [];

    /// <summary>True when some row uses an adapter.</summary>
    public bool HasAdapters => _groups.Count > 0;

    /// <summary>Starts a pass of <paramref name="rows"/> rows, all on the base model until <see cref="Assign"/>.</summary>
    public void Reset(int rows)
    {
        if (_rowSlots.Length < rows)
        {
            _rowSlots = new int[Math.Max(rows, _rowSlots.Length * 2)];
            _rowOrder = new int[_rowSlots.Length];
        }
        _rowSlots.AsSpan(0, rows).Clear();
        _rows = rows;
        _groups.Clear();
    }

    public void Assign(int firstRow, int count, int slot) => _rowSlots.AsSpan(firstRow, count).Fill(slot);

    /// <summary>Groups the assigned rows by slot (each group's rows in row order).</summary>
    public void Seal()
    {
        int at = 0;
        for (int row = 0; row < _rows; row++)
        {
            int slot = _rowSlots[row];
            if (slot == 0 || HasGroup(slot)) continue;
            int start = at;
            for (int r = row; r < _rows; r++)
                if (_rowSlots[r] == slot) _rowOrder[at++] = r;
            _groups.Add((slot, start, at - start));
        }
    }

    private bool HasGroup(int slot)
    {
        foreach (var g in _groups) if (g.Slot == slot) return true;
        return false;
    }

    /// <summary>
    /// y [T, out] += scale · B(A x) for each group whose adapter adapts this projection (<paramref name="pairs"/> by slot).
    /// </summary>
    internal void AddDeltas(LoraPair?[] pairs, ReadOnlySpan<float> x, Span<float> y, int inDim, int outDim, WorkerPool pool)
    {
        foreach (var (slot, start, count) in _groups)
        {
            if (slot >= pairs.Length || pairs[slot] is not { } pair) continue;
            var rows = _rowOrder.AsSpan(start, count);
            int rank = pair.Rank;
            Ensure(ref _gathered, count * inDim);
            Ensure(ref _low, count * rank);
            Ensure(ref _delta, count * outDim);
            var gathered = _gathered.AsSpan(0, count * inDim);    // [n, in] this adapter's rows of x
            var low = _low.AsSpan(0, count * rank);               // [n, r] A x
            var delta = _delta.AsSpan(0, count * outDim);         // [n, out] B (A x)
            for (int i = 0; i < count; i++) x.Slice(rows[i] * inDim, inDim).CopyTo(gathered.Slice(i * inDim, inDim));
            MatMul.Multiply(pair.A, gathered, low, count, pool);
            MatMul.Multiply(pair.B, low, delta, count, pool);
            for (int i = 0; i < count; i++)
            {
                var dst = y.Slice(rows[i] * outDim, outDim);
                TensorPrimitives.MultiplyAdd(delta.Slice(i * outDim, outDim), pair.Scale, dst, dst);
            }
        }
    }

    private static void Ensure(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(Math.Max(length, buffer.Length * 2), pinned: true);
    }
}
