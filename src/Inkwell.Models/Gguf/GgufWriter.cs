using System.Text;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Gguf;

/// <summary>
/// Writes a GGUF v3 file as ggml's gguf writer lays it out: header, metadata in insertion order, tensor infos,
/// zero padding to the alignment, then each tensor's data at an aligned offset (padded after it too).
/// Metadata copied from another GGUF keeps its exact encoding (types, array element types); setting a key
/// that exists removes it and appends it, as gguf_set_val_* does. Tensor data is streamed, one tensor at a time.
/// </summary>
public sealed class GgufWriter
{
    private const uint Magic = 0x46554747;
    private const uint Version = 3;
    private readonly List<(string Key, byte[] EncodedValue)> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];

    /// <summary>Writes exactly <c>ByteCount</c> bytes of one tensor's data to the stream.</summary>
    public delegate void TensorDataWriter(Stream destination);

    private sealed record PendingTensor(string Name, long[] Dimensions, GgmlType Type, long ByteCount, TensorDataWriter WriteData);

    /// <summary>32 (GGUF_DEFAULT_ALIGNMENT) unless the metadata sets general.alignment.</summary>
    public int Alignment { get; private set; } = 32;

    /// <summary>Copies every metadata key/value of a GGUF file, bytes as they are, in the file's order.</summary>
    public void CopyMetadataFrom(string ggufPath)
    {
        using var stream = File.OpenRead(ggufPath);
        var reader = new BinaryReader(stream);
        InvalidDataException Bad(string problem) => new($"{ggufPath}: {problem}");
        try
        {
            if (reader.ReadUInt32() != Magic) throw Bad("not a GGUF file");
            uint version = reader.ReadUInt32();
            if (version is < 2 or > 3) throw Bad($"unsupported GGUF version {version}");
            reader.ReadInt64(); // tensor count
            long count = reader.ReadInt64();
            for (long i = 0; i < count; i++)
            {
                string key = ReadString(reader, stream.Length);
                long start = stream.Position;
                SkipValue(reader, reader.ReadUInt32(), stream.Length, key);
                long end = stream.Position;
                stream.Position = start;
                Put(key, reader.ReadBytes(checked((int)(end - start))));
            }
        }
        catch (EndOfStreamException)
        {
            throw Bad("truncated metadata");
        }
    }

    public void Remove(string key) => _metadata.RemoveAll(kv => kv.Key == key);

    public void SetUInt32(string key, uint value) => Put(key, Encode(ValueType.U32, w => w.Write(value)));

    /// <summary>Adds a tensor; <paramref name="dimensions"/> as GGUF orders them (ne[0], the contiguous one, first).</summary>
    public void AddTensor(string name, long[] dimensions, GgmlType type, TensorDataWriter writeData)
    {
        if (_tensors.Exists(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' added twice");
        if (dimensions.Length is 0 or > 4) throw new ArgumentException($"tensor '{name}' has {dimensions.Length} dimensions (1 to 4 allowed)");
        long elements = dimensions.Aggregate(1L, (a, b) => a * b);
        _tensors.Add(new PendingTensor(name, dimensions, type, GgmlTypeInfo.ByteCount(type, elements), writeData));
    }

    public void Write(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var w = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write((long)_tensors.Count);
        w.Write((long)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write(value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dimensions.Length);
            foreach (long d in t.Dimensions) w.Write(d);
            w.Write((uint)t.Type);
            w.Write(offset);
            offset += Padded(t.ByteCount);
        }
        w.Flush();
        Pad(file);
        foreach (var t in _tensors)
        {
            long start = file.Position;
            t.WriteData(file);
            long written = file.Position - start;
            if (written != t.ByteCount)
                throw new InvalidOperationException($"tensor '{t.Name}': {written} bytes written, {t.ByteCount} expected for {t.Type} [{string.Join(", ", t.Dimensions)}]");
            Pad(file);
        }
    }

    private long Padded(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    private void Pad(Stream s)
    {
        long padding = Padded(s.Position) - s.Position;
        for (long i = 0; i < padding; i++) s.WriteByte(0);
    }

    private void Put(string key, byte[] encodedValue)
    {
        Remove(key);
        _metadata.Add((key, encodedValue));
        if (key == "general.alignment")
        {
            uint alignment = encodedValue.Length == 8 && BitConverter.ToUInt32(encodedValue) == (uint)ValueType.U32 ? BitConverter.ToUInt32(encodedValue, 4) : 0;
            if (alignment == 0 || alignment > 1 << 20 || (alignment & (alignment - 1)) != 0)
                throw new InvalidDataException("general.alignment must be a u32 power of two");
            Alignment = (int)alignment;
        }
    }

    private static byte[] Encode(ValueType type, Action<BinaryWriter> writeValue)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((uint)type);
            writeValue(w);
        }
        return buffer.ToArray();
    }

    private static void WriteString(BinaryWriter w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static string ReadString(BinaryReader r, long fileLength)
    {
        ulong length = r.ReadUInt64();
        if (length > (ulong)fileLength) throw new InvalidDataException($"string length {length} exceeds the file");
        return Encoding.UTF8.GetString(r.ReadBytes((int)length));
    }

    private static void SkipValue(BinaryReader r, uint type, long fileLength, string key)
    {
        switch ((ValueType)type)
        {
            case ValueType.String:
                ulong length = r.ReadUInt64();
                if (length > (ulong)fileLength) throw new InvalidDataException($"metadata '{key}': string length {length} exceeds the file");
                r.BaseStream.Seek((long)length, SeekOrigin.Current);
                break;
            case ValueType.Array:
                uint elementType = r.ReadUInt32();
                ulong count = r.ReadUInt64();
                if (count > (ulong)fileLength) throw new InvalidDataException($"metadata '{key}': array length {count} exceeds the file");
                if ((ValueType)elementType is ValueType.String or ValueType.Array)
                    for (ulong i = 0; i < count; i++) SkipValue(r, elementType, fileLength, key);
                else
                    r.BaseStream.Seek((long)count * ScalarBytes(elementType, key), SeekOrigin.Current);
                break;
            default:
                r.BaseStream.Seek(ScalarBytes(type, key), SeekOrigin.Current);
                break;
        }
        if (r.BaseStream.Position > fileLength) throw new EndOfStreamException();
    }

    private static int ScalarBytes(uint type, string key) => (ValueType)type switch
    {
        ValueType.U8 or ValueType.I8 or ValueType.Bool => 1,
        ValueType.U16 or ValueType.I16 => 2,
        ValueType.U32 or ValueType.I32 or ValueType.F32 => 4,
        ValueType.U64 or ValueType.I64 or ValueType.F64 => 8,
        _ => throw new InvalidDataException($"metadata '{key}' has unknown value type {type}"),
    };

    private enum ValueType : uint
    {
        U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
    }
}
