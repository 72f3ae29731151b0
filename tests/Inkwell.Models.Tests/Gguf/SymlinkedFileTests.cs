using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Gguf;

/// <summary>huggingface_hub's cache is made of symbolic links: a model reached through one must load like the file.</summary>
public sealed class SymlinkedFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-link-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void GgufThroughARelativeLinkChain_Loads()
    {
        string target = Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");
        Directory.CreateDirectory(Path.Combine(_dir, "blobs"));
        File.Copy(target, Path.Combine(_dir, "blobs", "etag"));
        Directory.CreateDirectory(Path.Combine(_dir, "snapshots", "c"));
        string link = Path.Combine(_dir, "snapshots", "c", "model.gguf");
        File.CreateSymbolicLink(link, "../../blobs/etag");
        string linkToLink = Path.Combine(_dir, "again.gguf");
        File.CreateSymbolicLink(linkToLink, link);

        using var direct = GgufFile.Open(target);
        foreach (var path in new[] { link, linkToLink })
        {
            using var file = GgufFile.Open(path);
            Assert.Equal(direct.Tensors.Count, file.Tensors.Count);
            using var model = ModelLoader.Load(path);
            Assert.Equal(512, model.Config.VocabSize);
        }
    }
}
