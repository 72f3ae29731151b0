using Inkwell.Models.Hub;

namespace Inkwell.Models.Tests.Hub;

/// <summary>The environment variables huggingface_hub's constants.py reads, with its precedence.</summary>
public sealed class HubSettingsTests
{
    private static HubSettings With(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        // HOME-derived defaults would read the real token file; point HF_TOKEN_PATH nowhere unless a test sets it.
        map.TryAdd("HF_TOKEN_PATH", "/nonexistent/token");
        return HubSettings.FromEnvironment(n => map.GetValueOrDefault(n));
    }

    [Fact]
    public void CacheDirectory_Precedence()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), With().CacheDirectory);
        Assert.Equal("/x/huggingface/hub", With(("XDG_CACHE_HOME", "/x")).CacheDirectory);
        Assert.Equal("/h/hub", With(("HF_HOME", "/h"), ("XDG_CACHE_HOME", "/x")).CacheDirectory);
        Assert.Equal("/t", With(("TRANSFORMERS_CACHE", "/t"), ("HF_HOME", "/h")).CacheDirectory);
        Assert.Equal("/old", With(("HUGGINGFACE_HUB_CACHE", "/old"), ("TRANSFORMERS_CACHE", "/t")).CacheDirectory);
        Assert.Equal("/new", With(("HF_HUB_CACHE", "/new"), ("HUGGINGFACE_HUB_CACHE", "/old")).CacheDirectory);
        Assert.Equal(Path.Combine(home, "c"), With(("HF_HUB_CACHE", "~/c")).CacheDirectory);
    }

    [Fact]
    public void Token_Endpoint_Offline()
    {
        Assert.Null(With().Token);
        Assert.Equal("a", With(("HF_TOKEN", "a"), ("HUGGING_FACE_HUB_TOKEN", "b")).Token);
        Assert.Equal("b", With(("HUGGING_FACE_HUB_TOKEN", "b")).Token);
        Assert.Equal(new Uri("https://huggingface.co"), With().Endpoint);
        Assert.Equal(new Uri("http://mirror:8080/hf"), With(("HF_ENDPOINT", "http://mirror:8080/hf/")).Endpoint);
        Assert.Throws<ArgumentException>(() => With(("HF_ENDPOINT", "mirror")));
        Assert.False(With().Offline);
        Assert.True(With(("HF_HUB_OFFLINE", "1")).Offline);
        Assert.True(With(("HF_HUB_OFFLINE", "true")).Offline);
        Assert.False(With(("HF_HUB_OFFLINE", "0")).Offline);
    }

    [Fact]
    public void Token_FromTheLoginFile()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "hf_fromfile\n");
            Assert.Equal("hf_fromfile", With(("HF_TOKEN_PATH", file)).Token);
        }
        finally { File.Delete(file); }
    }
}
