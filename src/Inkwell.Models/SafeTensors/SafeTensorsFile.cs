using System.IO.MemoryMappedFiles;
using System.Text.Json;
using Inkwell.Models.Gguf;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.SafeTensors;

public sealed record SafeTensorInfo(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// A .safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the tensor bytes.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    private SafeTensorsFile(string path)
    {
        Path = path;
        (_map, long length) = ReadOnlyMapping.Open(path, 8, length => Bad($"file is {length} bytes, too short for a safetensors header"));
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        p += _view.PointerOffset;
        PageAdvice.HugePages(p, length);
        try
        {
            ulong headerLength = *(ulong*)p;
            if (headerLength > (ulong)(length - 8) || headerLength > 100_000_000)
                throw Bad($"header length {headerLength} does not fit in the file ({length} bytes)");
            _data = p + 8 + (long)headerLength;
            long dataLength = length - 8 - (long)headerLength;
            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            JsonDocument doc;
            try { doc = JsonDocument.Parse(new ReadOnlyMemory<byte>(new ReadOnlySpan<byte>(p + 8, (int)headerLength).ToArray())); }
            catch (JsonException e) { throw Bad($"header is not valid JSON ({e.Message})"); }
            using (doc)
            {
                foreach (var entry in doc.RootElement.EnumerateObject())
                {
                    if (entry.Name == "__metadata__") continue;
                    var e = entry.Value;
                    if (!e.TryGetProperty("dtype", out var dtype) || !e.TryGetProperty("shape", out var shape) || !e.TryGetProperty("data_offsets", out var offsets))
                        throw Bad($"tensor '{entry.Name}' lacks dtype, shape or data_offsets");
                    var info = new SafeTensorInfo(entry.Name, dtype.GetString() ?? "",
                        shape.EnumerateArray().Select(d => d.GetInt64()).ToArray(), offsets[0].GetInt64(), offsets[1].GetInt64());
                    if (info.Begin < 0 || info.End < info.Begin || info.End > dataLength)
                        throw Bad($"tensor '{entry.Name}' bytes {info.Begin}..{info.End} lie outside the data section ({dataLength} bytes): truncated?");
                    tensors[entry.Name] = info;
                }
            }
            Tensors = tensors;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static SafeTensorsFile Open(string path) =>
        File.Exists(path) ? new SafeTensorsFile(path) : throw new FileNotFoundException($"{path}: file not found", path);

    /// <summary>A 2-D view [product of the leading dimensions, last dimension] (a vector is [1, n]), checked against the expected shape.</summary>
    public WeightMatrix Matrix(string name, int expectedRows, int expectedCols)
    {
        if (!Tensors.TryGetValue(name, out var t)) throw Bad($"tensor '{name}' is missing");
        var type = GgmlTypeOf(t.DType) ?? throw Bad($"tensor '{name}' has unsupported dtype {t.DType} (F32, F16 and BF16 are supported)");
        long elements = t.Shape.Aggregate(1L, (a, b) => a * b);
        // The last dimension is the row; any leading ones stack rows (a 3-D [experts, out, in] tensor is [experts·out, in]).
        long cols = t.Shape.Length == 0 ? 1 : t.Shape[^1];
        long rows = elements / Math.Max(1, cols);
        if (rows != expectedRows || cols != expectedCols)
            throw Bad($"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{expectedRows}, {expectedCols}]");
        if (t.End - t.Begin != GgmlTypeInfo.ByteCount(type, elements))
            throw Bad($"tensor '{name}' holds {t.End - t.Begin} bytes, but {t.DType} [{string.Join(", ", t.Shape)}] needs {GgmlTypeInfo.ByteCount(type, elements)}");
        return new WeightMatrix(name, type, (int)rows, (int)cols, _data + t.Begin, this);
    }

    /// <summary>The encoding of a safetensors dtype that weights can have here, or null.</summary>
    public static GgmlType? GgmlTypeOf(string dtype) => dtype switch
    {
        "F32" => GgmlType.F32,
        "F16" => GgmlType.F16,
        "BF16" => GgmlType.BF16,
        _ => null,
    };

    private InvalidDataException Bad(string problem) => new($"{Path}: {problem}");

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
