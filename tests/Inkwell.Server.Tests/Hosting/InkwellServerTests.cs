using Inkwell.Models.Loading;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.Hosting;

/// <summary>Building a server over a model whose vocabulary is llama.cpp's placeholder is refused up front, with the reason.</summary>
public sealed class InkwellServerTests
{
    [SharedFact]
    public void A_placeholder_vocabulary_model_is_refused_before_the_engine_starts()
    {
        using var model = ModelLoader.Load(RepoPaths.InShared("arch-models", "qwen2-dense.gguf"));
        var e = Assert.Throws<NotSupportedException>(() => InkwellServer.Build(new ServerOptions { Hostname = "127.0.0.1", Port = 0, NumThreads = 1 }, model));
        Assert.Contains("placeholder", e.Message);
        Assert.Contains("inkwell logits", e.Message);
    }
}
