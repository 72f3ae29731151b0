using System.Text;
using Inkwell.Server.PromptTuning;

namespace Inkwell.Server.Tests.PromptTuning;

public sealed class PromptPrefixStoreTests : IDisposable
{
    private const int Dim = 8;
    private readonly string _directory = Directory.CreateTempSubdirectory("inkwell-prefix-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Loads_EachDtype_ToTheValuesTheFileHolds(string dtype)
    {
        var values = Enumerable.Range(0, 3 * Dim).Select(i => MathF.Sin(i) * 1.7f).ToArray();
        SafeTensorsWriter.Write(Path.Combine(_directory, "p.safetensors"), "prompt", values, 3, Dim, dtype);

        var prefix = new PromptPrefixStore(_directory, Dim).Get("p");

        Assert.Equal(3, prefix.VirtualTokens);
        Assert.Equal(SafeTensorsWriter.RoundTrip(values, dtype), prefix.Embeddings);
        Assert.NotEqual(0UL, prefix.Salt);
    }

    [Fact]
    public void Caches_AndSaltsDiffer()
    {
        SafeTensorsWriter.Write(Path.Combine(_directory, "a.safetensors"), "w", new float[Dim], 1, Dim);
        SafeTensorsWriter.Write(Path.Combine(_directory, "b.safetensors"), "w", new float[Dim], 1, Dim);
        var store = new PromptPrefixStore(_directory, Dim);

        var a = store.Get("a");
        File.Delete(Path.Combine(_directory, "a.safetensors"));
        Assert.Same(a, store.Get("a"));
        Assert.NotEqual(a.Salt, store.Get("b").Salt);
    }

    [Fact]
    public void Failures_AreClear_AndNotCached()
    {
        var store = new PromptPrefixStore(_directory, Dim);
        Assert.Equal("can't retrieve prompt prefix with id 'late': not found", Assert.Throws<PromptPrefixException>(() => store.Get("late")).Message);
        SafeTensorsWriter.Write(Path.Combine(_directory, "late.safetensors"), "w", new float[Dim], 1, Dim);
        Assert.Equal(1, store.Get("late").VirtualTokens);
    }

    [Theory]
    [InlineData("../secret")]
    [InlineData("..")]
    [InlineData("/etc/passwd")]
    [InlineData("a\\b")]
    [InlineData(".hidden")]
    [InlineData("")]
    public void PathTraversal_IsRefused(string id)
    {
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(_directory)!, "secret.safetensors"), "");
        var e = Assert.Throws<PromptPrefixException>(() => new PromptPrefixStore(_directory, Dim).Get(id));
        Assert.Contains("invalid prefix id", e.Message);
    }

    [Fact]
    public void WrongShape_NonFinite_AndDisabled_AreRefused()
    {
        SafeTensorsWriter.Write(Path.Combine(_directory, "wide.safetensors"), "w", new float[2 * (Dim + 1)], 2, Dim + 1);
        SafeTensorsWriter.Write(Path.Combine(_directory, "nan.safetensors"), "w", [float.NaN, .. new float[Dim - 1]], 1, Dim);
        File.WriteAllBytes(Path.Combine(_directory, "junk.safetensors"), Encoding.UTF8.GetBytes("not a safetensors file"));
        var store = new PromptPrefixStore(_directory, Dim);

        Assert.Contains($"expected [n_virtual_tokens, {Dim}] (the model's hidden size)", Assert.Throws<PromptPrefixException>(() => store.Get("wide")).Message);
        Assert.Contains("NaN or infinite", Assert.Throws<PromptPrefixException>(() => store.Get("nan")).Message);
        string junk = Assert.Throws<PromptPrefixException>(() => store.Get("junk")).Message;
        Assert.StartsWith("can't retrieve prompt prefix with id 'junk': ", junk);
        // The client learns what is wrong with the file, not where the server keeps it.
        Assert.DoesNotContain(_directory, junk);
        Assert.DoesNotContain(Path.GetTempPath(), junk);
        Assert.Contains("--prompt-prefix-dir", Assert.Throws<PromptPrefixException>(() => new PromptPrefixStore(null, Dim).Get("x")).Message);
    }
}
