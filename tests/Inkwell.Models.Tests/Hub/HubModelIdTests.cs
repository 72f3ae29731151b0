using Inkwell.Models.Hub;

namespace Inkwell.Models.Tests.Hub;

public sealed class HubModelIdTests
{
    [Theory]
    [InlineData("bigscience/bloom-560m", null, "bigscience/bloom-560m", "main", null)]
    [InlineData("org/name@v1.0", null, "org/name", "v1.0", null)]
    [InlineData("org/name", "refs/pr/1", "org/name", "refs/pr/1", null)]
    [InlineData("unsloth/Qwen3-0.6B-GGUF:Q4_K_M", null, "unsloth/Qwen3-0.6B-GGUF", "main", "Q4_K_M")]
    [InlineData("org/name@dev:Q8_0", "dev", "org/name", "dev", "Q8_0")]
    public void Parses(string text, string? revision, string repository, string expectedRevision, string? tag)
    {
        Assert.True(HubModelId.TryParse(text, revision, out var id));
        Assert.Equal(new HubModelId(repository, expectedRevision, tag), id);
    }

    [Theory]
    [InlineData("model.gguf")]
    [InlineData("/abs/path/model.gguf")]
    [InlineData("a/b/c")]
    [InlineData("org/")]
    public void LocalLookingNames_AreNotIds(string text) => Assert.False(HubModelId.TryParse(text, null, out _));

    [Fact]
    public void ConflictingRevisions_AreAnError() =>
        Assert.Throws<ArgumentException>(() => HubModelId.TryParse("org/name@v1", "v2", out _));
}
