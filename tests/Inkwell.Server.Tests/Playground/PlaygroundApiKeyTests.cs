using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Inkwell.Server.Tests.Playground;

/// <summary>The playground on a server started with --api-key: the pages load without it, every call sends it as Bearer.</summary>
public sealed class PlaygroundApiKeyTests
{
    private const string Key = "sk-playground";

    [BrowserFact]
    public async Task ThePlaygroundWorksBehindAnApiKey()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = Key });
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium.Path, Headless = true });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Client.BaseAddress!.ToString() });
        await page.GotoAsync("/");
        // Without the key: the page loads, /info is refused and says so, /metrics (open to scrapers) still shows.
        await Expect(page.Locator("#model-info")).ToContainTextAsync("401");
        await Expect(page.Locator("#server-stats dd[data-key=tgi_request_count]")).ToHaveTextAsync("0");
        await page.ClickAsync("#mode-raw");
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#max-tokens", "10");
        await page.ClickAsync("#send");
        await Expect(page.Locator("#error")).ToContainTextAsync("401");

        await page.FillAsync("#api-key", Key);
        await page.Locator("#api-key").DispatchEventAsync("change");
        await Expect(page.Locator("#model-info dd[data-key=model_id]")).ToHaveTextAsync(server.State.ModelId);
        await page.ClickAsync("#send");
        await Expect(page.Locator("#status")).ToHaveAttributeAsync("data-state", "done");
        string text = await page.EvaluateAsync<string>("() => [...document.querySelectorAll('#raw-output .tok')].map(t => t.textContent).join('')");
        Assert.StartsWith(text, server.GoldenGreedy["Once upon a time".Length..]);

        // /docs loads without the key too, and its "Try it" sends the key kept for the tab.
        await page.GotoAsync("/docs");
        var info = page.Locator("#get_model_info");
        await info.Locator("summary").ClickAsync();
        await info.Locator("button.try").ClickAsync();
        await Expect(info.Locator(".result[data-status]")).ToHaveAttributeAsync("data-status", "200");
    }
}
