using Inkwell.Server.Generation;

namespace Inkwell.Server.Tests.Generation;

/// <summary>The service's one set of token rules: TGIS's (lower an overflowing max_new_tokens) and TGI's (refuse), min_new_tokens, truncation.</summary>
public class GenerationLimitsTests
{
    private static readonly GenerationLimits Limits = new(MaxInputTokens: 99, MaxTotalTokens: 100);

    [Fact]
    public void TgisRule_LowersMaxNewTokensToTheSequenceLimit_AndRefusesInputsThatLeaveNoRoom()
    {
        var tgis = new GenerationInput { MaxNewTokens = 30, MinNewTokens = 10, ClampToSequenceLimit = true };
        Assert.Equal((30, false), GenerationService.MaxNewTokens(tgis, 60, 0, Limits));
        Assert.Equal((20, true), GenerationService.MaxNewTokens(tgis, 70, 10, Limits));
        // TGIS's messages (router/src/validation.rs).
        Assert.Equal("input tokens (100) plus prefix length (0) must be < 100",
            Assert.Throws<GenerationException>(() => GenerationService.MaxNewTokens(tgis, 100, 0, Limits)).Message);
        var error = Assert.Throws<GenerationException>(() => GenerationService.MaxNewTokens(tgis, 85, 6, Limits));
        Assert.Equal("input tokens (85) plus prefix length (6) plus min_new_tokens (10) must be <= 100", error.Message);
        Assert.Equal(GenerationErrorKind.ContextLength, error.Kind);
    }

    [Fact]
    public void TgiRule_DefaultsToWhatFits_AndRefusesAnOverflow()
    {
        Assert.Equal((40, false), GenerationService.MaxNewTokens(new GenerationInput(), 60, 0, Limits));
        Assert.Equal((16, false), GenerationService.MaxNewTokens(new GenerationInput { DefaultMaxNewTokens = 16 }, 60, 0, Limits));
        var error = Assert.Throws<GenerationException>(() => GenerationService.MaxNewTokens(new GenerationInput { MaxNewTokens = 50 }, 60, 0, Limits));
        Assert.Equal("`inputs` tokens + `max_new_tokens` must be <= 100. Given: 60 `inputs` tokens and 50 `max_new_tokens`", error.Message);
        Assert.Equal(GenerationErrorKind.ContextLength, error.Kind);
    }

    [Theory]
    [InlineData(int.MaxValue, false)]
    [InlineData(int.MaxValue - 59, false)]
    [InlineData(int.MaxValue, true)]
    public void MaxNewTokens_NearIntMax_DoesNotWrapPastTheCheck(int maxNewTokens, bool tgis)
    {
        var input = new GenerationInput { MaxNewTokens = maxNewTokens, ClampToSequenceLimit = tgis };
        if (tgis)
        {
            // TGIS lowers it to what fits, as for any overflowing value.
            Assert.Equal((40, true), GenerationService.MaxNewTokens(input, 60, 0, Limits));
            return;
        }
        var error = Assert.Throws<GenerationException>(() => GenerationService.MaxNewTokens(input, 60, 0, Limits));
        Assert.Equal(GenerationErrorKind.ContextLength, error.Kind);
        Assert.Contains($"{maxNewTokens} `max_new_tokens`", error.Message);
    }

    [Fact]
    public void MinNewTokens_AboveTheResolvedMaximum_IsRefused()
    {
        var error = Assert.Throws<GenerationException>(() => GenerationService.MaxNewTokens(new GenerationInput { MinNewTokens = 41 }, 60, 0, Limits));
        Assert.Equal(GenerationErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("min_new_tokens must be <= max_new_tokens", error.Message);
    }

    [Fact]
    public void Truncation_KeepsTheLastTokens_AndAnAddedBosFirst()
    {
        int[] ids = [1, 10, 11, 12, 13];
        Assert.Equal([1, 12, 13], GenerationService.Truncate(ids, 3, addedBos: 1));
        Assert.Equal([11, 12, 13], GenerationService.Truncate(ids, 3, addedBos: null));
        Assert.Equal(ids, GenerationService.Truncate(ids, 5, addedBos: 1));
        Assert.Equal([13], GenerationService.Truncate(ids, 1, addedBos: 1));
    }
}
