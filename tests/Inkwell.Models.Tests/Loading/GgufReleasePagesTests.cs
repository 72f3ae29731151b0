using Inkwell.Models.Gguf;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Loading;

public sealed unsafe class GgufReleasePagesTests
{
    [Fact]
    public void Released_tensor_pages_read_back_unchanged()
    {
        // The packed matmul path releases the file pages of the matrices it has copied; anything that reads them
        // afterwards (an embedding row lookup) must still see the file's bytes.
        using var gguf = GgufFile.Open(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var tensor = gguf.Tensors.MaxBy(t => t.ByteCount)!;
        Assert.True(tensor.ByteCount > 3 * Environment.SystemPageSize, "needs a tensor spanning whole pages");
        byte* data = gguf.TensorData(tensor);
        var before = new ReadOnlySpan<byte>(data, (int)tensor.ByteCount).ToArray();
        gguf.ReleasePages(data, tensor.ByteCount);
        Assert.Equal(before, new ReadOnlySpan<byte>(data, (int)tensor.ByteCount).ToArray());
        gguf.ReleasePages(data, 0); // empty and sub-page ranges are no-ops
        gguf.ReleasePages(data + 1, 10);
        Assert.Equal(before[..16], new ReadOnlySpan<byte>(data, 16).ToArray());
    }
}
