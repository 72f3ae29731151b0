using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Inkwell.Server.Tests.Playground;

/// <summary>/docs in Debian's chromium: every operation of the OpenAPI document listed, and "try it" answering from the server.</summary>
public sealed class DocsBrowserTests(BrowserHarness harness) : IClassFixture<BrowserHarness>
{
    [BrowserFact]
    public async Task ListsEveryOperationAndTriesTokenize()
    {
        var consoleErrors = new List<string>();
        var page = await harness.NewPageAsync(consoleErrors);
        await page.GotoAsync("/docs");

        var document = JsonNode.Parse(await harness.Server.Client.GetStringAsync("/openapi.json"))!;
        int operations = document["paths"]!.AsObject().Sum(path => path.Value!.AsObject().Count);
        await Expect(page.Locator(".operation")).ToHaveCountAsync(operations);

        var tokenize = page.Locator("#tokenize");
        await tokenize.Locator("summary").ClickAsync();
        await tokenize.Locator("textarea").FillAsync("{\"inputs\": \"Once upon a time\"}");
        await tokenize.Locator("button.try").ClickAsync();
        var result = tokenize.Locator(".result[data-status]");
        await Expect(result).ToHaveAttributeAsync("data-status", "200");
        await Expect(tokenize.Locator(".result-status")).ToContainTextAsync("200 OK");

        // The page shows the server's answer as it came (re-indented): the same tokens a direct call gets.
        using var direct = await harness.Server.Client.PostAsync("/tokenize",
            new StringContent("{\"inputs\": \"Once upon a time\"}", System.Text.Encoding.UTF8, "application/json"));
        var expected = JsonNode.Parse(await direct.Content.ReadAsStringAsync())!;
        var shown = JsonNode.Parse((await result.TextContentAsync())!)!;
        Assert.True(JsonNode.DeepEquals(expected, shown), shown.ToJsonString());
        Assert.Equal("Once upon a time".Length, shown.AsArray().Last()!["stop"]!.GetValue<int>());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHarness.ScreenshotPath("docs-try-it.png") });

        // A path parameter and an error in the API's own shape.
        var model = page.Locator("#retrieve_model");
        await model.Locator("summary").ClickAsync();
        await model.Locator("input[name=id]").FillAsync("no-such-model");
        await model.Locator("button.try").ClickAsync();
        await Expect(model.Locator(".result[data-status]")).ToHaveAttributeAsync("data-status", "404");
        await Expect(model.Locator(".result")).ToContainTextAsync("model_not_found");
        Assert.DoesNotContain(consoleErrors, e => !e.Contains("404", StringComparison.Ordinal)); // chromium logs the 404 itself
        await page.CloseAsync();
    }
}
