using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Inkwell.Server.Tests.Playground;

/// <summary>
/// The playground in Debian's chromium over a real server: streamed chat, raw completion against the model's golden
/// greedy text (llama2.c's, models/stories260K), a stop midway that the server sees as a cancellation, the server's
/// error for a bad grammar, token probabilities with their alternatives, model info, live stats, and the API key.
/// </summary>
public sealed class PlaygroundBrowserTests(BrowserHarness harness) : IClassFixture<BrowserHarness>, IAsyncLifetime
{
    private const string Prompt = "Once upon a time";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly List<string> _consoleErrors = [];
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        if (!Chromium.IsInstalled) return;
        _page = await harness.NewPageAsync(_consoleErrors);
        await _page.GotoAsync("/");
        // The page has asked /info for the model id before anything is sent.
        await Expect(_page.Locator("#model-info dd[data-key=model_id]")).ToHaveTextAsync(harness.Server.State.ModelId);
    }

    public async Task DisposeAsync()
    {
        if (_page is not null) await _page.CloseAsync();
    }

    private LocatorAssertionsToHaveAttributeOptions Wait => new() { Timeout = (float)Patience.TotalMilliseconds };

    private async Task RawMode(string prompt, int maxTokens, int alternatives = 3)
    {
        await _page.ClickAsync("#mode-raw");
        await _page.FillAsync("#raw-input", prompt);
        await _page.FillAsync("#temperature", "0");
        await _page.FillAsync("#max-tokens", maxTokens.ToString(CultureInfo.InvariantCulture));
        await _page.FillAsync("#top-n", alternatives.ToString(CultureInfo.InvariantCulture));
    }

    private Task<string> GeneratedRawText() =>
        _page.EvaluateAsync<string>("() => [...document.querySelectorAll('#raw-output .tok')].map(t => t.textContent).join('')");

    private Task<int> TokenCount(string container) => _page.Locator(container + " .tok").CountAsync();

    [BrowserFact]
    public async Task RawCompletionStreamsTheGoldenGreedyText()
    {
        await RawMode(Prompt, maxTokens: 30);
        await _page.ClickAsync("#send");
        // The stop button is live while the stream runs, and tokens appear before the end.
        await Expect(_page.Locator("#stop")).ToBeEnabledAsync();
        await _page.WaitForFunctionAsync("() => document.querySelectorAll('#raw-output .tok').length > 0 && document.getElementById('status').dataset.state === 'running'");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "done", Wait);

        string text = await GeneratedRawText();
        Assert.Equal(30, await TokenCount("#raw-output"));
        Assert.StartsWith(text, harness.Server.GoldenGreedy[Prompt.Length..]);
        Assert.True(text.Length > 40, text);
        Assert.Equal(Prompt, await _page.Locator("#raw-output .prompt").TextContentAsync());
        await Expect(_page.Locator("#status")).ToContainTextAsync("finish: length");
        await Expect(_page.Locator("#stop")).ToBeDisabledAsync();
        await Expect(_page.Locator("#error")).ToBeHiddenAsync();
        Assert.True(_consoleErrors.Count == 0, string.Join('\n', _consoleErrors));
    }

    [BrowserFact]
    public async Task TokensShowTheirProbabilityAndAlternatives()
    {
        await RawMode(Prompt, maxTokens: 8, alternatives: 3);
        await _page.ClickAsync("#send");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "done", Wait);

        // The server's own numbers for the same greedy request, to check the page shows them and not something else.
        using var response = await harness.Server.Client.PostAsJsonAsync("/generate",
            new { inputs = Prompt, parameters = new { max_new_tokens = 8, details = true, top_n_tokens = 3 } });
        var details = (await response.Content.ReadFromJsonAsync<JsonNode>())!["details"]!;
        // The second token (" there"): TGI's top_tokens spell it as its vocabulary piece, so the page must match by id.
        const int index = 1;
        var chosen = details["tokens"]![index]!;
        float logprob = chosen["logprob"]!.GetValue<float>();

        var token = _page.Locator("#raw-output .tok").Nth(index);
        Assert.Equal(chosen["text"]!.GetValue<string>(), await token.TextContentAsync());
        Assert.Equal(logprob, float.Parse((await token.GetAttributeAsync("data-logprob"))!, CultureInfo.InvariantCulture), 4);
        Assert.NotEqual("", await token.EvaluateAsync<string>("t => t.style.backgroundColor"));

        await token.HoverAsync();
        var popup = _page.Locator("#token-popup");
        await Expect(popup).ToBeVisibleAsync();
        var rows = popup.Locator("tr");
        var top = details["top_tokens"]![index]!.AsArray();
        Assert.Contains(top, t => t!["id"]!.GetValue<int>() == chosen["id"]!.GetValue<int>()); // greedy: the chosen is among the top 3
        Assert.Equal(3, await rows.CountAsync());
        // Greedy: the chosen token is the most likely, so it heads the alternatives, with the server's probability.
        Assert.Equal("chosen", await rows.First.GetAttributeAsync("class"));
        Assert.Equal(chosen["text"]!.GetValue<string>(), await ShownToken(rows.First));
        double percent = 100 * Math.Exp(logprob);
        Assert.True(percent >= 10, $"the greedy token has p = {percent}%"); // the page shows one decimal from 10% up
        await Expect(rows.First).ToContainTextAsync(percent.ToString("0.0", CultureInfo.InvariantCulture) + "%");
        var others = top.Where(t => t!["id"]!.GetValue<int>() != chosen["id"]!.GetValue<int>())
            .Select(t => t!["text"]!.GetValue<string>()).ToList();
        for (int i = 1; i < 3; i++) Assert.Contains(await ShownToken(rows.Nth(i)), others);

        // A click pins it; a click elsewhere lets it go.
        await token.ClickAsync();
        await _page.Mouse.MoveAsync(5, 5);
        await Expect(popup).ToBeVisibleAsync();
        await _page.Locator("#status").ClickAsync();
        await Expect(popup).ToBeHiddenAsync();
        Assert.True(_consoleErrors.Count == 0, string.Join('\n', _consoleErrors));
    }

    [BrowserFact]
    public async Task StopEndsTheStreamMidwayAndTheServerSeesTheCancellation()
    {
        double cancelledBefore = await CancelledCount();
        await RawMode(Prompt, maxTokens: 300, alternatives: 0);
        await _page.ClickAsync("#send");
        await _page.WaitForFunctionAsync("() => document.querySelectorAll('#raw-output .tok').length >= 5");
        await _page.ClickAsync("#stop");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "stopped", Wait);

        int shown = await TokenCount("#raw-output");
        Assert.InRange(shown, 5, 299);
        await Task.Delay(4 * BrowserHarness.EventDelay + TimeSpan.FromMilliseconds(300));
        Assert.Equal(shown, await TokenCount("#raw-output")); // nothing more arrives
        await Expect(_page.Locator("#send")).ToBeEnabledAsync();
        await Expect(_page.Locator("#stop")).ToBeDisabledAsync();
        await Expect(_page.Locator("#error")).ToBeHiddenAsync();
        Assert.StartsWith(await GeneratedRawText(), harness.Server.GoldenGreedy[Prompt.Length..]);

        // The abort reached the server: the request is counted as cancelled, not as a success.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await CancelledCount() <= cancelledBefore)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), "the server never counted the stopped request as cancelled");
            await Task.Delay(100);
        }
        Assert.True(_consoleErrors.Count == 0, string.Join('\n', _consoleErrors));
    }

    private Task<double> CancelledCount() => MetricSum("tgi_request_failure", "err=\"cancelled\"");

    /// <summary>A metric summed over its series (those whose labels contain <paramref name="label"/>, when given).</summary>
    private async Task<double> MetricSum(string name, string? label = null)
    {
        string metrics = await harness.Server.Client.GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$"))
            .Where(m => m.Success && m.Groups[1].Value == name && (label is null || m.Groups[2].Value.Contains(label, StringComparison.Ordinal)))
            .Sum(m => double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    [BrowserFact]
    public async Task ABadRegexShowsTheServers422()
    {
        await RawMode(Prompt, maxTokens: 10);
        await _page.SelectOptionAsync("#grammar-kind", "regex");
        await _page.FillAsync("#grammar", "x)|(.*");
        await _page.ClickAsync("#send");
        var error = _page.Locator("#error");
        await Expect(error).ToBeVisibleAsync();
        await Expect(error).ToContainTextAsync("422");
        await Expect(error).ToContainTextAsync("Input validation error: grammar is not valid");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "failed");
        Assert.Equal(0, await TokenCount("#raw-output"));

        // A schema that is not JSON is refused in the page, before any request.
        await _page.SelectOptionAsync("#grammar-kind", "json");
        await _page.FillAsync("#grammar", "{\"type\": ");
        await _page.ClickAsync("#send");
        await Expect(error).ToContainTextAsync("the JSON schema is not valid JSON");
    }

    [BrowserFact(needsSharedTemplate: true)]
    public async Task ChatStreamsAReplyThroughTheChatTemplate()
    {
        await _page.FillAsync("#temperature", "0");
        await _page.FillAsync("#max-tokens", "24");
        await _page.FillAsync("#top-n", "2");
        await _page.FillAsync("#chat-input", "Tell me a story about a cat.");
        await _page.ClickAsync("#send");
        await _page.WaitForFunctionAsync("() => document.querySelectorAll('.message.assistant .tok').length > 0 && document.getElementById('status').dataset.state === 'running'");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "done", Wait);

        await Expect(_page.Locator(".message.user .body")).ToHaveTextAsync("Tell me a story about a cat.");
        Assert.Equal("", await _page.InputValueAsync("#chat-input"));
        int tokens = await TokenCount(".message.assistant");
        Assert.InRange(tokens, 1, 24);
        // include_usage: the page reports the server's count, which covers every token shown (and an end token, if one came).
        string status = (await _page.Locator("#status").TextContentAsync())!;
        int completion = int.Parse(System.Text.RegularExpressions.Regex.Match(status, @"completion (\d+) tokens").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(completion, tokens, tokens + 1);

        // A second turn carries the first in its history.
        await _page.FillAsync("#chat-input", "And then?");
        await _page.ClickAsync("#send");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "done", Wait);
        Assert.Equal(2, await _page.Locator(".message.user").CountAsync());
        Assert.Equal(2, await _page.Locator(".message.assistant").CountAsync());

        await _page.Locator(".message.assistant .tok").Nth(2).ClickAsync();
        await Expect(_page.Locator("#token-popup")).ToBeVisibleAsync();
        await _page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHarness.ScreenshotPath("playground-chat.png"), FullPage = true });
        Assert.True(_consoleErrors.Count == 0, string.Join('\n', _consoleErrors));
    }

    [BrowserFact(needsSharedTemplate: true)]
    public async Task ABadJsonSchemaInChatShowsTheServers400AndKeepsTheMessage()
    {
        await _page.SelectOptionAsync("#grammar-kind", "json");
        await _page.FillAsync("#grammar", "{\"type\": \"string\", \"pattern\": \"x)|(.*\"}");
        await _page.FillAsync("#chat-input", "Hello");
        await _page.ClickAsync("#send");
        var error = _page.Locator("#error");
        await Expect(error).ToBeVisibleAsync();
        await Expect(error).ToContainTextAsync("400");
        await Expect(error).ToContainTextAsync("grammar is not valid");
        Assert.Equal(0, await _page.Locator(".message").CountAsync());
        Assert.Equal("Hello", await _page.InputValueAsync("#chat-input"));
    }

    [BrowserFact]
    public async Task StatsFollowTheServerAndTheKeyGoesAsBearer()
    {
        double before = await RequestCount();
        await _page.FillAsync("#api-key", "sk-playground-test");
        await _page.Locator("#api-key").DispatchEventAsync("change");
        await RawMode(Prompt, maxTokens: 40);
        await _page.ClickAsync("#send");
        await Expect(_page.Locator("#status")).ToHaveAttributeAsync("data-state", "done", Wait);
        Assert.Contains("Bearer sk-playground-test", harness.AuthorizationSeen);

        // The stats panel follows /metrics: it counts this request (the page refreshes it after each run).
        await _page.WaitForFunctionAsync("n => Number(document.querySelector('#server-stats dd[data-key=tgi_request_count]')?.textContent) >= n", before + 1);
        double shown = double.Parse((await _page.Locator("#server-stats dd[data-key=tgi_request_count]").TextContentAsync())!, CultureInfo.InvariantCulture);
        Assert.InRange(shown, before + 1, await RequestCount());
        await Expect(_page.Locator("#model-info dd[data-key=max_total_tokens]"))
            .ToHaveTextAsync(harness.Server.State.Validator.Limits.MaxTotalTokens.ToString(CultureInfo.InvariantCulture));
        await _page.Locator("#raw-output .tok").Nth(1).HoverAsync();
        await _page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHarness.ScreenshotPath("playground-raw.png"), FullPage = true });
        Assert.True(_consoleErrors.Count == 0, string.Join('\n', _consoleErrors));
    }

    /// <summary>A popup row's token, which the page shows as a JSON string literal (so spaces and newlines are visible).</summary>
    private static async Task<string> ShownToken(ILocator row) =>
        System.Text.Json.JsonSerializer.Deserialize<string>((await row.Locator("code").TextContentAsync())!)!;

    private Task<double> RequestCount() => MetricSum("tgi_request_count");
}
