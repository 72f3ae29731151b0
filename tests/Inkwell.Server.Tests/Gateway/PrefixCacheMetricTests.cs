using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>The replica-side counter the cluster bench judges routing by: inkwell_prefix_cache_hit_tokens on a
/// server's /metrics counts prompt tokens served from cached full blocks.</summary>
public class PrefixCacheMetricTests
{
    private static async Task<double> HitTokensAsync(TestServer server)
    {
        var text = await server.Client.GetStringAsync("/metrics");
        return double.Parse(Regex.Match(text, @"^inkwell_prefix_cache_hit_tokens (\S+)$", RegexOptions.Multiline).Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ASecondRequestWithTheSamePromptCountsItsCachedBlocks()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { BlockSize = 16 });
        var prompt = string.Concat(Enumerable.Repeat("Once upon a time there was a little girl named Lily. ", 4));
        var body = new { inputs = prompt, parameters = new { max_new_tokens = 2 } };

        using var first = await server.Client.PostAsJsonAsync("/generate", body);
        first.EnsureSuccessStatusCode();
        Assert.Equal(0, await HitTokensAsync(server));

        using var second = await server.Client.PostAsJsonAsync("/generate", body);
        second.EnsureSuccessStatusCode();
        var promptTokens = int.Parse(second.Headers.GetValues("x-prompt-tokens").Single(), System.Globalization.CultureInfo.InvariantCulture);
        // Every full 16-token block of the prompt is reused; the prompt's last token is always computed again.
        Assert.Equal((promptTokens - 1) / 16 * 16, await HitTokensAsync(server));
    }
}
