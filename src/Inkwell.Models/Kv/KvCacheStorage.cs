namespace Inkwell.Models.Kv;

/// <summary>
/// The memory of a paged KV cache: for every layer, keys and values of BlockCount blocks of BlockSize token slots,
/// each slot KvDim floats. Which blocks belong to which sequence is the engine's business (its block pool);
/// the model only reads and writes slots through a sequence's block table.
/// </summary>
public sealed unsafe class KvCacheStorage
{
    private readonly float[][] _keys;    // [layer][block * BlockSize * KvDim + offset * KvDim + d]
    private readonly float[][] _values;  // same layout

    public KvCacheStorage(int layerCount, int kvDim, int blockSize, int blockCount)
    {
        if (blockSize <= 0 || blockCount <= 0) throw new ArgumentOutOfRangeException(nameof(blockCount), "KV cache needs at least one block of at least one slot");
        LayerCount = layerCount;
        KvDim = kvDim;
        BlockSize = blockSize;
        BlockCount = blockCount;
        long perLayer = (long)blockCount * blockSize * kvDim;
        if (perLayer > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(blockCount), $"KV cache of {blockCount} blocks is too large for one layer array");
        _keys = new float[layerCount][];
        _values = new float[layerCount][];
        for (int l = 0; l < layerCount; l++)
        {
            // Pinned so kernels can hold raw pointers across worker threads.
            _keys[l] = GC.AllocateUninitializedArray<float>((int)perLayer, pinned: true);
            _values[l] = GC.AllocateUninitializedArray<float>((int)perLayer, pinned: true);
        }
    }

    public int LayerCount { get; }
    public int KvDim { get; }
    public int BlockSize { get; }
    public int BlockCount { get; }
    public int TokenCapacity => BlockSize * BlockCount;
    public long Bytes => 2L * LayerCount * BlockCount * BlockSize * KvDim * sizeof(float);

    /// <summary>Bytes one token takes across all layers (K and V), for sizing the cache from a memory budget.</summary>
    public static long BytesPerToken(int layerCount, int kvDim) => 2L * layerCount * kvDim * sizeof(float);

    public float* KeyBlock(int layer, int block)
    {
        fixed (float* p = _keys[layer]) return p + (long)block * BlockSize * KvDim;
    }

    public float* ValueBlock(int layer, int block)
    {
        fixed (float* p = _values[layer]) return p + (long)block * BlockSize * KvDim;
    }

    /// <summary>Copies every layer's slots of one block into another (copy-on-write of a shared partial block).</summary>
    public void CopyBlock(int from, int to)
    {
        int n = BlockSize * KvDim;
        for (int l = 0; l < LayerCount; l++)
        {
            Array.Copy(_keys[l], (long)from * n, _keys[l], (long)to * n, n);
            Array.Copy(_values[l], (long)from * n, _values[l], (long)to * n, n);
        }
    }
}
