using Inkwell.Client.Registry;

namespace Inkwell.Client.Tests.Registry;

public class RegistryPrinterTests
{
    [Fact]
    public void ListsModelsWithTheirDeploymentsMarkingDefaultAndDeprecated()
    {
        var lines = RegistryPrinter.Format(RegistryFixtures.LoadValid()).Split('\n');

        Assert.Equal("5 models, 6 deployments", lines[0]);
        Assert.Contains("meta/llama-2-7b  \"Llama 2 (7B)\"  (open, 7B params, released 2023-07-18, by Meta)", lines);
        Assert.Contains(lines, l => l.StartsWith("  * meta/llama-2-7b ", StringComparison.Ordinal) && l.Contains("tgi") && l.Contains("[default, max_sequence_length 4096]"));
        Assert.Contains(lines, l => l.StartsWith("    local/llama-2-7b ", StringComparison.Ordinal) && l.Contains("llama-2-7b.Q4_0.gguf"));
        Assert.Contains(lines, l => l.StartsWith("    old/stories260k ", StringComparison.Ordinal) && l.EndsWith("[deprecated]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  * local/stories260k ", StringComparison.Ordinal));
        var undeployed = Array.FindIndex(lines, l => l.StartsWith("acme/undeployed", StringComparison.Ordinal));
        Assert.Equal("    (no deployments)", lines[undeployed + 1]);
        // every deployment deprecated: HELM falls back to the first, so it is the default
        Assert.Contains(lines, l => l.StartsWith("  * old/retired", StringComparison.Ordinal) && l.EndsWith("[default, deprecated]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(260_000L, "260K")]
    [InlineData(1_300_000_000L, "1.3B")]
    [InlineData(125_000_000L, "125M")]
    [InlineData(999L, "999")]
    public void FormatsParameterCounts(long count, string expected) =>
        Assert.Equal(expected, RegistryPrinter.FormatParameters(count));
}
