using System.Collections.Concurrent;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Inkwell.Server.Tests.Playground;

/// <summary>Debian's chromium, launched by its path (never a browser Playwright downloads); INKWELL_CHROMIUM overrides it.</summary>
public static class Chromium
{
    public static string Path { get; } = Environment.GetEnvironmentVariable("INKWELL_CHROMIUM") is { Length: > 0 } p ? p : "/usr/bin/chromium";

    public static bool IsInstalled => File.Exists(Path);

    public static string SkipReason => $"needs chromium at {Path} (tests/setup-peers.sh installs Debian's; INKWELL_CHROMIUM points elsewhere)";
}

/// <summary>A browser test: skipped with a clear reason when chromium is absent, or (chat) when ../shared's chat template is.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute(bool needsSharedTemplate = false)
    {
        if (!Chromium.IsInstalled) Skip = Chromium.SkipReason;
        else if (needsSharedTemplate && !RepoPaths.HasShared) Skip = $"needs ../shared beside the repository for a chat template ({RepoPaths.Shared} not found)";
    }
}

/// <summary>
/// The embedded model served with a real chat template (when ../shared is there) and chromium driving pages on it.
/// Event streams are slowed to one event per <see cref="EventDelay"/> so a test can watch a reply grow and stop it
/// midway: stories260K on loopback would otherwise finish before a click lands.
/// </summary>
public sealed class BrowserHarness : IAsyncLifetime
{
    public static readonly TimeSpan EventDelay = TimeSpan.FromMilliseconds(40);

    private IPlaywright? _playwright;

    public TestServer Server { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    /// <summary>The Authorization header of each generation request the server received, in arrival order.</summary>
    public ConcurrentQueue<string> AuthorizationSeen { get; } = new();

    public async Task InitializeAsync()
    {
        if (!Chromium.IsInstalled) return; // every test skips
        var options = RepoPaths.HasShared ? new ServerOptions { ChatTemplatePath = RepoPaths.InShared("templates", OpenAI.TemplatedServer.TemplateFile) } : null;
        Server = await TestServer.StartAsync(options, configure: builder =>
            builder.Services.AddSingleton<IStartupFilter>(new SlowEventStreams(EventDelay, AuthorizationSeen)));
        // Assertions retry up to this long (default 5 s): a loaded CI machine is slow, not wrong.
        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium.Path, Headless = true });
    }

    /// <summary>A fresh page (its own storage) on the server; browser console errors fail the test that reads <paramref name="consoleErrors"/>.</summary>
    public async Task<IPage> NewPageAsync(List<string> consoleErrors)
    {
        var page = await Browser.NewPageAsync(new BrowserNewPageOptions
        {
            BaseURL = Server.Client.BaseAddress!.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 860 },
        });
        page.Console += (_, message) => { if (message.Type == "error") consoleErrors.Add(message.Text); };
        page.PageError += (_, error) => consoleErrors.Add(error);
        return page;
    }

    /// <summary>
    /// Where a screenshot goes: docs/images/ when INKWELL_UPDATE_SCREENSHOTS=1 (to refresh the committed ones), else
    /// the temp folder, so an ordinary run never changes the work tree.
    /// </summary>
    public static string ScreenshotPath(string name) =>
        Environment.GetEnvironmentVariable("INKWELL_UPDATE_SCREENSHOTS") == "1"
            ? RepoPaths.InRoot("docs", "images", name)
            : System.IO.Path.Combine(System.IO.Path.GetTempPath(), "inkwell-playground-" + name);

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (Server is not null) await Server.DisposeAsync();
    }

    /// <summary>Slows each event of an event stream, and records the Authorization header of generation requests.</summary>
    private sealed class SlowEventStreams(TimeSpan delay, ConcurrentQueue<string> authorization) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (ctx, nextMiddleware) =>
            {
                if (HttpMethods.IsPost(ctx.Request.Method))
                {
                    authorization.Enqueue(ctx.Request.Headers.Authorization.ToString());
                    ctx.Response.Body = new SlowEventStream(ctx.Response.Body, ctx.Response, delay);
                }
                await nextMiddleware(ctx);
            });
            next(app);
        };
    }

    /// <summary>SseFormatter writes each event with one WriteAsync (Kestrel sends it at once): the pause goes before each.</summary>
    private sealed class SlowEventStream(Stream inner, HttpResponse response, TimeSpan delay) : Stream
    {
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            if (response.ContentType == "text/event-stream") await Task.Delay(delay, ct);
            await inner.WriteAsync(buffer, ct);
        }

        public override Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
