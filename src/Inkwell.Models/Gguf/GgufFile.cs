using System.IO.MemoryMappedFiles;
using System.Text;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Gguf;

/// <summary>One tensor's entry in a GGUF file: shape as GGUF stores it (ne[0] is the contiguous dimension).</summary>
public sealed record GgufTensorInfo(string Name, long[] Dimensions, GgmlType Type, long Offset)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);
    public long ByteCount => GgmlTypeInfo.ByteCount(Type, ElementCount);
}

/// <summary>
/// A GGUF v2/v3 file, memory-mapped: metadata key/values, tensor infos and views of tensor data.
/// Every structural problem is an <see cref="InvalidDataException"/> naming the file.
/// </summary>
public sealed unsafe class GgufFile : IDisposable, IReleasableMapping
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _length;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _readHandle;  // for reads of released pages, opened on the first one

    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public long DataOffset { get; }
    public int Alignment { get; }

    private GgufFile(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        (_map, _length) = ReadOnlyMapping.Open(path, 24, length => Bad(path, $"file is {length} bytes, too short for a GGUF header"));
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
        PageAdvice.HugePages(_base, _length);
        try
        {
            var reader = new Reader(_base, _length, path);
            uint magic = reader.U32();
            if (magic != Magic) throw Bad(path, $"not a GGUF file (magic 0x{magic:x8}, expected 0x{Magic:x8} \"GGUF\")");
            Version = reader.U32();
            if (Version is < 2 or > 3) throw Bad(path, $"unsupported GGUF version {Version} (2 and 3 are supported)");
            long tensorCount = reader.I64Count("tensor count");
            long kvCount = reader.I64Count("metadata count");

            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (long i = 0; i < kvCount; i++)
            {
                string key = reader.String();
                var valueType = (GgufValueType)reader.U32();
                metadata[key] = reader.Value(valueType, key);
            }
            Metadata = metadata;
            Alignment = metadata.TryGetValue("general.alignment", out var a) ? Convert.ToInt32(a) : 32;
            if (Alignment <= 0 || (Alignment & (Alignment - 1)) != 0) throw Bad(path, $"general.alignment {Alignment} is not a power of two");

            var tensors = new List<GgufTensorInfo>((int)Math.Min(tensorCount, 1 << 20));
            for (long i = 0; i < tensorCount; i++)
            {
                string name = reader.String();
                uint nDims = reader.U32();
                if (nDims is 0 or > 4) throw Bad(path, $"tensor '{name}' has {nDims} dimensions (1 to 4 allowed)");
                var dims = new long[nDims];
                for (int d = 0; d < nDims; d++)
                {
                    dims[d] = reader.I64Count($"tensor '{name}' dimension");
                }
                uint type = reader.U32();
                if (!GgmlTypeInfo.IsKnown(type)) throw Bad(path, $"tensor '{name}' has unknown type {type}");
                long offset = reader.I64Count($"tensor '{name}' offset");
                tensors.Add(new GgufTensorInfo(name, dims, (GgmlType)type, offset));
            }
            Tensors = tensors;
            DataOffset = (reader.Position + Alignment - 1) / Alignment * Alignment;
            _tensorsByName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                long bytes;
                try { bytes = t.ByteCount; }
                catch (InvalidDataException e) { throw Bad(path, $"tensor '{t.Name}': {e.Message}"); }
                if (DataOffset + t.Offset + bytes > _length)
                    throw Bad(path, $"tensor '{t.Name}' ends at byte {DataOffset + t.Offset + bytes} past the end of the file ({_length} bytes): truncated?");
                if (!_tensorsByName.TryAdd(t.Name, t)) throw Bad(path, $"tensor '{t.Name}' appears twice");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static GgufFile Open(string path) => new(path);

    public static bool LooksLikeGguf(string path)
    {
        using var s = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return s.Read(head) == 4 && BitConverter.ToUInt32(head) == Magic;
    }

    public bool HasTensor(string name) => _tensorsByName.ContainsKey(name);

    public GgufTensorInfo Tensor(string name) =>
        _tensorsByName.TryGetValue(name, out var t) ? t : throw Bad(Path, $"tensor '{name}' is missing");

    /// <summary>Pointer to the first byte of a tensor's data; valid while this file is open.</summary>
    public byte* TensorData(GgufTensorInfo tensor) => _base + DataOffset + tensor.Offset;

    /// <summary>A 2-D view [ne1, ne0] (or [1, ne0] for a vector), checked against the expected shape.</summary>
    public WeightMatrix Matrix(string name, int expectedRows, int expectedCols)
    {
        var t = Tensor(name);
        long cols = t.Dimensions[0];
        long rows = t.ElementCount / Math.Max(1, cols);
        if (cols != expectedCols || rows != expectedRows)
            throw Bad(Path, $"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{expectedCols}, {expectedRows}]");
        return new WeightMatrix(name, t.Type, (int)rows, (int)cols, TensorData(t), this);
    }

    public bool TryGet<T>(string key, out T value)
    {
        if (Metadata.TryGetValue(key, out var v))
        {
            if (v is T typed) { value = typed; return true; }
            var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
            // Token ids are stored as u32 with 0xFFFFFFFF meaning "none": read as int they become -1.
            if (v is uint u && target == typeof(int)) { value = (T)(object)unchecked((int)u); return true; }
            if (v is IConvertible && target.IsPrimitive && target != typeof(bool))
            {
                try { value = (T)Convert.ChangeType(v, target, System.Globalization.CultureInfo.InvariantCulture); return true; }
                catch (Exception e) when (e is OverflowException or InvalidCastException or FormatException)
                {
                    throw Bad(Path, $"metadata '{key}' is {v.GetType().Name} {v}, which does not fit {target.Name}");
                }
            }
            throw Bad(Path, $"metadata '{key}' is {v.GetType().Name}, expected {target.Name}");
        }
        value = default!;
        return false;
    }

    public T Get<T>(string key) => TryGet<T>(key, out T v) ? v : throw Bad(Path, $"metadata '{key}' is missing");

    public T GetOrDefault<T>(string key, T fallback) => TryGet<T>(key, out T v) ? v : fallback;

    /// <summary>Drops the resident pages inside the range (<see cref="PageAdvice.ReleaseFilePages"/>).</summary>
    public void ReleasePages(byte* start, long bytes)
    {
        if (_view is not null) PageAdvice.ReleaseFilePages(start, bytes);
    }

    /// <summary>Opened once, on the first read (no delegate per call: lookups read once per token); racing first callers keep one.</summary>
    private Microsoft.Win32.SafeHandles.SafeFileHandle OpenReadHandle()
    {
        var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var existing = Interlocked.CompareExchange(ref _readHandle, handle, null);
        if (existing is null) return handle;
        handle.Dispose();
        return existing;
    }

    /// <summary>The bytes at <paramref name="start"/> (inside this file's mapping) read from the file with a positioned read.</summary>
    public void ReadWithoutMapping(byte* start, Span<byte> destination)
    {
        long offset = start - _base;
        if (offset < 0 || offset + destination.Length > _length) throw new ArgumentOutOfRangeException(nameof(start), "the range is outside this file's mapping");
        var handle = _readHandle ?? OpenReadHandle();
        for (int done = 0; done < destination.Length;)
        {
            int n = RandomAccess.Read(handle, destination[done..], offset + done);
            if (n == 0) throw Bad(Path, "the file ended before a tensor's bytes (was it truncated while mapped?)");
            done += n;
        }
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        _readHandle?.Dispose();
    }

    internal static InvalidDataException Bad(string path, string problem) => new($"{path}: {problem}");

    private enum GgufValueType : uint
    {
        U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
    }

    /// <summary>Bounds-checked cursor over the mapped header.</summary>
    private struct Reader(byte* data, long length, string path)
    {
        public long Position;

        private byte* Take(long n, string what)
        {
            if (n < 0 || Position + n > length) throw Bad(path, $"truncated while reading {what} at byte {Position}");
            byte* p = data + Position;
            Position += n;
            return p;
        }

        public uint U32() => *(uint*)Take(4, "a 32-bit value");

        public long I64Count(string what)
        {
            ulong v = *(ulong*)Take(8, what);
            if (v > long.MaxValue / 2) throw Bad(path, $"{what} {v} is not plausible");
            return (long)v;
        }

        public string String()
        {
            long n = I64Count("a string length");
            if (n > length) throw Bad(path, $"string length {n} exceeds the file: truncated?");
            return Encoding.UTF8.GetString(Take(n, "a string"), (int)n);
        }

        public object Value(GgufValueType type, string key) => type switch
        {
            GgufValueType.U8 => *Take(1, key),
            GgufValueType.I8 => (sbyte)*Take(1, key),
            GgufValueType.U16 => *(ushort*)Take(2, key),
            GgufValueType.I16 => *(short*)Take(2, key),
            GgufValueType.U32 => *(uint*)Take(4, key),
            GgufValueType.I32 => *(int*)Take(4, key),
            GgufValueType.F32 => *(float*)Take(4, key),
            GgufValueType.Bool => *Take(1, key) != 0,
            GgufValueType.String => String(),
            GgufValueType.U64 => *(ulong*)Take(8, key),
            GgufValueType.I64 => *(long*)Take(8, key),
            GgufValueType.F64 => *(double*)Take(8, key),
            GgufValueType.Array => Array(key),
            _ => throw Bad(path, $"metadata '{key}' has unknown value type {(uint)type}"),
        };

        private object Array(string key)
        {
            var elementType = (GgufValueType)U32();
            long count = I64Count($"metadata '{key}' array length");
            if (count > length) throw Bad(path, $"metadata '{key}' array length {count} exceeds the file: truncated?");
            switch (elementType)
            {
                case GgufValueType.String:
                {
                    var items = new string[count];
                    for (long i = 0; i < count; i++) items[i] = String();
                    return items;
                }
                case GgufValueType.F32:
                    return new ReadOnlySpan<float>(Take(count * 4, key), (int)count).ToArray();
                case GgufValueType.I32:
                    return new ReadOnlySpan<int>(Take(count * 4, key), (int)count).ToArray();
                case GgufValueType.U32:
                    return new ReadOnlySpan<uint>(Take(count * 4, key), (int)count).ToArray();
                default:
                {
                    var items = new object[count];
                    for (long i = 0; i < count; i++) items[i] = Value(elementType, key);
                    return items;
                }
            }
        }
    }
}
