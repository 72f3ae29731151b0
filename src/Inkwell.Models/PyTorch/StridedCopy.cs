namespace Inkwell.Models.PyTorch;

/// <summary>Writes a strided view of a storage as contiguous row-major bytes.</summary>
internal static class StridedCopy
{
    public static void Write(byte[] storage, TensorReference t, int elementBytes, Stream destination)
    {
        int rank = t.Shape.Length;
        long elements = t.Shape.Aggregate(1L, (a, b) => a * b);
        if (elements == 0) return;
        if (IsContiguous(t))
        {
            destination.Write(storage, checked((int)(t.StorageOffset * elementBytes)), checked((int)(elements * elementBytes)));
            return;
        }
        // Walk every index but the last with an odometer; the last dimension is one run when its stride is 1.
        long inner = rank == 0 ? 1 : t.Shape[^1];
        long innerStride = rank == 0 ? 1 : t.Strides[^1];
        var index = new long[Math.Max(0, rank - 1)];
        var row = new byte[inner * elementBytes];
        for (long done = 0; done < elements; done += inner)
        {
            long start = t.StorageOffset;
            for (int d = 0; d < index.Length; d++) start += index[d] * t.Strides[d];
            if (innerStride == 1)
                Buffer.BlockCopy(storage, checked((int)(start * elementBytes)), row, 0, row.Length);
            else
                for (long i = 0; i < inner; i++)
                    Buffer.BlockCopy(storage, checked((int)((start + i * innerStride) * elementBytes)), row, checked((int)(i * elementBytes)), elementBytes);
            destination.Write(row);
            for (int d = index.Length - 1; d >= 0; d--)
            {
                if (++index[d] < t.Shape[d]) break;
                index[d] = 0;
            }
        }
    }

    private static bool IsContiguous(TensorReference t)
    {
        long expected = 1;
        for (int d = t.Shape.Length - 1; d >= 0; d--)
        {
            if (t.Shape[d] != 1 && t.Strides[d] != expected) return false;
            expected *= t.Shape[d];
        }
        return true;
    }
}
