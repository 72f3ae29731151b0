using System.Text;
using System.Text.Json;

namespace Inkwell.Models.PyTorch;

/// <summary>
/// Writes a .safetensors file: u64 header length, the JSON header (padded with spaces to a multiple of 8, as the
/// safetensors library pads it), then the tensors back to back in the order added. Data is streamed per tensor.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly List<(string Name, string DType, long[] Shape, long ByteCount, Action<Stream> WriteData)> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal) { ["format"] = "pt" };

    public long TotalBytes => _tensors.Sum(t => t.ByteCount);

    public void Add(string name, string dtype, long[] shape, long byteCount, Action<Stream> writeData)
    {
        if (_tensors.Exists(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' added twice");
        _tensors.Add((name, dtype, shape, byteCount, writeData));
    }

    /// <summary>Writes to a temporary name beside <paramref name="path"/> and moves it into place when whole.</summary>
    public void Write(string path)
    {
        string temporary = path + ".partial";
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var header = Header();
                file.Write(BitConverter.GetBytes((ulong)header.Length));
                file.Write(header);
                foreach (var t in _tensors)
                {
                    long start = file.Position;
                    t.WriteData(file);
                    if (file.Position - start != t.ByteCount)
                        throw new InvalidOperationException($"tensor '{t.Name}': {file.Position - start} bytes written, {t.ByteCount} expected");
                }
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private byte[] Header()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (k, v) in _metadata) json.WriteString(k, v);
            json.WriteEndObject();
            long offset = 0;
            foreach (var t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteCount);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteCount;
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - buffer.Length % 8) % 8);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        return buffer.ToArray();
    }
}
