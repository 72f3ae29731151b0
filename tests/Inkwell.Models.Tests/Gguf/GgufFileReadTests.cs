using Inkwell.Models.Gguf;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Gguf;

/// <summary>Reads of a mapped GGUF's bytes through the file (what a row lookup takes once packing handed the pages back).</summary>
public sealed unsafe class GgufFileReadTests
{
    [Fact]
    public void A_read_without_mapping_gives_the_mapped_bytes_of_every_tensor()
    {
        using var f = GgufFile.Open(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        foreach (var tensor in f.Tensors)
        {
            byte* data = f.TensorData(tensor);
            int bytes = (int)Math.Min(tensor.ByteCount, 4096);
            var read = new byte[bytes];
            // From the middle of the tensor too: reads start anywhere, not only at page or tensor boundaries.
            f.ReadWithoutMapping(data + tensor.ByteCount - bytes, read);
            Assert.Equal(new ReadOnlySpan<byte>(data + tensor.ByteCount - bytes, bytes).ToArray(), read);
        }
    }

    [Fact]
    public void A_read_past_the_file_is_refused()
    {
        using var f = GgufFile.Open(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var last = f.Tensors.MaxBy(t => t.Offset)!;
        byte* end = f.TensorData(last) + last.ByteCount;
        long tail = new FileInfo(f.Path).Length - (f.DataOffset + last.Offset + last.ByteCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => f.ReadWithoutMapping(end, new byte[tail + 1]));
    }
}
