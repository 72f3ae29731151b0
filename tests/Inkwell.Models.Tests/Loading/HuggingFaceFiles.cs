using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Inkwell.Models.Tests.Loading;

/// <summary>Writes Hugging Face files from GGUF data for loader tests: F32 safetensors, and Q/K rows in HF's order.</summary>
internal static class HuggingFaceFiles
{
    /// <summary>Inverse of convert_hf_to_gguf.py permute(): GGUF row h*hd + 2i + a came from HF row h*hd + a*hd/2 + i.</summary>
    public static float[] Unpermute(float[] gguf, int heads, int rows, int cols)
    {
        int hd = rows / heads, half = hd / 2;
        var hf = new float[gguf.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int a = 0; a < 2; a++)
                    Array.Copy(gguf, (h * hd + 2 * i + a) * cols, hf, (h * hd + a * half + i) * cols, cols);
        return hf;
    }

    public static void WriteSafetensors(string path, List<(string Name, long[] Shape, float[] Data)> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + data.Length * 4L } };
            offset += data.Length * 4L;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes((ulong)padded));
        s.Write(json);
        for (int i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
        foreach (var (_, _, data) in tensors) s.Write(MemoryMarshal.AsBytes(data.AsSpan()));
    }
}
