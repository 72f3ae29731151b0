using Inkwell.Models.Hub;

namespace Inkwell.Models.Tests.Hub;

/// <summary>What gets fetched: TGI's weight choice (weight_hub_files) and llama.cpp's -hf GGUF choice
/// (find_best_model in common/download.cpp), on file lists shaped like real repositories'.</summary>
public sealed class HubFileSelectionTests
{
    private static readonly string[] Llama = [
        ".gitattributes", "README.md", "config.json", "generation_config.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "model.safetensors.index.json", "pytorch_model-00001-of-00002.bin",
        "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json", "special_tokens_map.json", "tokenizer.json",
        "tokenizer.model", "tokenizer_config.json", "original/consolidated.00.pth",
    ];

    private static readonly string[] Gguf = [
        "README.md", "Model-F16.gguf", "Model-Q2_K.gguf", "Model-Q4_K_M.gguf", "Model-Q4_K_S.gguf", "Model-Q8_0.gguf",
        "mmproj-Model-F16.gguf", "imatrix.gguf",
    ];

    [Fact]
    public void SafetensorsWin_WithIndexAndCompanions()
    {
        var s = HubFileSelection.Choose("meta/llama", Llama, null, null);
        Assert.Equal(WeightFormat.SafeTensors, s.Format);
        Assert.Null(s.ModelFile);
        Assert.Equal([
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "config.json", "generation_config.json",
            "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
        ], s.Files);
    }

    [Fact]
    public void ExtensionBin_TakesTheBinShards()
    {
        var s = HubFileSelection.Choose("meta/llama", Llama, ".bin", null);
        Assert.Equal(WeightFormat.PyTorchBin, s.Format);
        Assert.Contains("pytorch_model.bin.index.json", s.Files);
        Assert.DoesNotContain(s.Files, f => f.EndsWith(".safetensors", StringComparison.Ordinal));
    }

    [Fact]
    public void TrainingArgs_AreNotWeights() // TGI: "arguments", "args" and "training" are not weight files
    {
        var s = HubFileSelection.Choose("x/y", ["pytorch_model.bin", "training_args.bin", "config.json"], null, null);
        Assert.Equal(["pytorch_model.bin", "config.json"], s.Files);
    }

    [Theory]
    [InlineData(null, "Model-Q4_K_M.gguf")] // llama.cpp's default: Q4_K_M, then Q8_0
    [InlineData("Q8_0", "Model-Q8_0.gguf")]
    [InlineData("q4_k_s", "Model-Q4_K_S.gguf")] // case-insensitive
    [InlineData("F16", "Model-F16.gguf")] // never the mmproj sidecar of the same tag
    public void Gguf_TagChoosesTheFile(string? tag, string expected)
    {
        var s = HubFileSelection.Choose("org/Model-GGUF", Gguf, null, tag);
        Assert.Equal(WeightFormat.Gguf, s.Format);
        Assert.Equal([expected], s.Files);
        Assert.Equal(expected, s.ModelFile);
    }

    [Fact]
    public void Gguf_WithoutTheDefaultTags_TakesTheFirstModelFile() =>
        Assert.Equal("a-F16.gguf", HubFileSelection.ChooseGguf("o/m", ["mmproj-a.gguf", "a-F16.gguf", "a-BF16.gguf"], null));

    [Fact]
    public void Gguf_UnknownTag_ListsWhatThereIs()
    {
        var e = Assert.Throws<HubException>(() => HubFileSelection.Choose("org/Model-GGUF", Gguf, null, "Q5_K_M"));
        Assert.Contains("Q5_K_M", e.Message);
        Assert.Contains("Model-Q8_0.gguf", e.Message);
    }

    [Fact]
    public void Gguf_SplitFiles_AreRefusedClearly()
    {
        var e = Assert.Throws<NotSupportedException>(() =>
            HubFileSelection.ChooseGguf("o/m", ["m-Q8_0-00002-of-00002.gguf", "m-Q8_0-00001-of-00002.gguf"], "Q8_0"));
        Assert.Contains("m-Q8_0-00001-of-00002.gguf", e.Message);
        Assert.Contains("llama-gguf-split --merge", e.Message);
    }

    [Fact]
    public void NoWeights_SaysWhatTheRepositoryHas()
    {
        var e = Assert.Throws<HubException>(() => HubFileSelection.Choose("o/data", ["README.md", "data.csv"], null, null));
        Assert.Contains("data.csv", e.Message);
        Assert.Throws<ArgumentException>(() => HubFileSelection.Choose("o/m", Llama, ".pt", null));
        Assert.Throws<HubException>(() => HubFileSelection.Choose("o/m", Llama, ".gguf", null));
    }

    [Fact]
    public void Include_IsFnmatch()
    {
        Assert.Equal(["original/consolidated.00.pth"], HubFileSelection.Matching("o/m", Llama, ["original/*"]));
        Assert.Equal(["tokenizer.json", "tokenizer.model"], HubFileSelection.Matching("o/m", Llama, ["tokenizer.*"]));
        Assert.Throws<HubException>(() => HubFileSelection.Matching("o/m", Llama, ["*.onnx"]));
    }
}
