using System.Text.Json.Nodes;
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
