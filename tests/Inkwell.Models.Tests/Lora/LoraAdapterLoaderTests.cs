using System.Text.Json.Nodes;
using Inkwell.Models.Gguf;
using Inkwell.Runtime.Tensors;
using Inkwell.Models.Lora;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Lora;

/// <summary>Adapter files that do not fit: each is refused at load with a message naming the adapter and the problem.</summary>
public sealed class LoraAdapterLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static InvalidDataException Refused(string path)
    {
        using var model = LoraForwardTests.LoadBase();
        return Assert.ThrowsAny<InvalidDataException>(() => LoraAdapterSet.Attach(model.Config, model.Weights, [("bad", path)]));
    }

    /// <summary>A copy of the fixture "alpha" with its adapter_config.json edited.</summary>
    private string PeftWith(Action<JsonObject> edit)
    {
        string dir = Path.Combine(_dir, Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(dir);
        File.Copy(LoraForwardTests.Fixture("alpha", "adapter_model.safetensors"), Path.Combine(dir, "adapter_model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(LoraForwardTests.Fixture("alpha", "adapter_config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString());
        return dir;
    }

    [Fact]
    public void A_missing_path_is_refused()
    {
        using var model = LoraForwardTests.LoadBase();
        var e = Assert.Throws<FileNotFoundException>(() => LoraAdapterSet.Attach(model.Config, model.Weights, [("gone", Path.Combine(_dir, "nope"))]));
        Assert.Contains("'gone'", e.Message);
    }

    [Fact]
    public void A_directory_without_adapter_config_is_refused()
    {
        Assert.Contains("adapter_config.json is missing", Refused(_dir).Message);
    }

    [Fact]
    public void A_rank_that_does_not_match_the_tensors_is_refused()
    {
        var e = Refused(PeftWith(c => c["r"] = 3));
        Assert.Contains("has shape [4, ", e.Message);
        Assert.Contains("need [3, ", e.Message);
        Assert.Contains("'bad'", e.Message);
    }

    [Fact]
    public void Unsupported_targets_and_dora_are_refused()
    {
        Assert.Contains("lm_head", Refused(PeftWith(c => c["target_modules"] = new JsonArray("q_proj", "lm_head"))).Message);
        Assert.Contains("DoRA", Refused(PeftWith(c => c["use_dora"] = true)).Message);
        Assert.Contains("not valid JSON", Refused(PeftWithText("{ r: ")).Message);
    }

    private string PeftWithText(string text)
    {
        string dir = PeftWith(_ => { });
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), text);
        return dir;
    }

    [Fact]
    public void A_model_file_is_not_an_adapter()
    {
        var e = Refused(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        Assert.Contains("general.type", e.Message);
    }

    /// <summary>A GGUF adapter with alpha.gguf's metadata and the given f32 tensors (ggml dimensions, zeros).</summary>
    private string GgufWith(params (string Name, long[] Dimensions)[] tensors)
    {
        var writer = new GgufWriter();
        writer.CopyMetadataFrom(LoraForwardTests.Fixture("alpha.gguf"));
        foreach (var (name, dims) in tensors)
            writer.AddTensor(name, dims, GgmlType.F32, s => s.Write(new byte[dims.Aggregate(4L, (a, b) => a * b)]));
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("n") + ".gguf");
        writer.Write(path);
        return path;
    }

    [Fact]
    public void Gguf_adapters_that_do_not_fit_the_model_are_refused()
    {
        // attn_q is [in 64, out 64]: lora_b with 32 outputs belongs to another model.
        var e = Refused(GgufWith(("blk.0.attn_q.weight.lora_a", [64, 4]), ("blk.0.attn_q.weight.lora_b", [4, 32])));
        Assert.Contains("do not fit the model's projection (in 64, out 64)", e.Message);
        Assert.Contains("lora_b is missing", Refused(GgufWith(("blk.0.attn_q.weight.lora_a", [64, 4]))).Message);
        Assert.Contains("not a LoRA pair", Refused(GgufWith(("blk.0.attn_norm.weight.lora_a", [64, 4]))).Message);
        Assert.Contains("layer 7 does not exist", Refused(GgufWith(("blk.7.attn_q.weight.lora_a", [64, 4]))).Message);
    }

    [Fact]
    public void A_file_of_neither_format_is_refused()
    {
        string path = Path.Combine(_dir, "adapter.bin");
        File.WriteAllBytes(path, new byte[64]);
        Assert.Contains("neither a PEFT directory nor a GGUF file", Refused(path).Message);
    }

    [Fact]
    public void Duplicate_and_malformed_names_are_refused()
    {
        using var model = LoraForwardTests.LoadBase();
        var alpha = LoraForwardTests.Fixture("alpha");
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() =>
            LoraAdapterSet.Attach(model.Config, model.Weights, [("a", alpha), ("a", alpha)])).Message);
        Assert.Contains("not name=path", Assert.Throws<ArgumentException>(() => LoraAdapterSet.ParseSpec("=x")).Message);
        Assert.Equal([("one", "/p/one"), ("alpha", "/q/alpha/")], LoraAdapterSet.ParseSpec("one=/p/one, /q/alpha/"));
    }

    [Fact]
    public void The_scales_follow_peft_and_rslora()
    {
        using var model = LoraForwardTests.LoadWithAdapters();
        var set = model.Weights.Adapters!;
        Assert.Equal(8f / 4, set.Find("alpha")!.Pair(0, LoraTarget.Query)!.Scale);
        Assert.Equal(4f / MathF.Sqrt(8), set.Find("rs")!.Pair(0, LoraTarget.Query)!.Scale, 6);
        Assert.Equal(8f / 4, set.Find("alpha-gguf")!.Pair(0, LoraTarget.Down)!.Scale);
        Assert.Equal([LoraTarget.Query, LoraTarget.Value, LoraTarget.Down], set.Find("rs")!.Targets);
    }
}
