using System.Buffers.Binary;
using System.Text;

namespace Inkwell.Server.Tests.PromptTuning;

/// <summary>Writes a one-tensor .safetensors file by the format's spec (u64 header length, JSON header, raw little-endian data).</summary>
internal static class SafeTensorsWriter
{
    public static void Write(string path, string name, float[] values, int rows, int cols, string dtype = "F32")
    {
        byte[] data = dtype switch
        {
            "F32" => values.SelectMany(v => BitConverter.GetBytes(v)).ToArray(),
            "F16" => values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray(),
            // bf16 is the upper half of an f32 (truncated here; the reader must widen it back exactly).
            "BF16" => values.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16))).ToArray(),
            _ => throw new ArgumentException(dtype),
        };
        string header = $$$$"""{"{{{{name}}}}":{"dtype":"{{{{dtype}}}}","shape":[{{{{rows}}}},{{{{cols}}}}],"data_offsets":[0,{{{{data.Length}}}}]},"__metadata__":{"format":"pt"}}""";
        var headerBytes = Encoding.UTF8.GetBytes(header);
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerBytes.Length);
        file.Write(length);
        file.Write(headerBytes);
        file.Write(data);
    }

    /// <summary>The values a reader should get back from a file written with <paramref name="dtype"/>.</summary>
    public static float[] RoundTrip(float[] values, string dtype) => dtype switch
    {
        "F32" => values,
        "F16" => values.Select(v => (float)(Half)v).ToArray(),
        "BF16" => values.Select(v => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000u)).ToArray(),
        _ => throw new ArgumentException(dtype),
    };
}
