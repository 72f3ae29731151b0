using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>An OpenAI-style upstream: /v1/chat/completions streams two chunks, holding the second back until the
/// test says so, so a test can tell a relayed stream from a buffered one. Records the last request body.</summary>
public sealed class FakeOpenAIUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeOpenAIUpstream(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }
    public JsonNode? LastBody { get; private set; }
    public TaskCompletionSource ReleaseSecondChunk { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<FakeOpenAIUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        FakeOpenAIUpstream? self = null;
        app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            self!.LastBody = await JsonNode.ParseAsync(ctx.Request.Body);
            ctx.Response.ContentType = "text/event-stream";
            await Write(ctx, """{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}""");
            await self.ReleaseSecondChunk.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await Write(ctx, """{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}""");
            await Write(ctx, "[DONE]");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new FakeOpenAIUpstream(app, new Uri(address));
        return self;
    }

    private static async Task Write(HttpContext ctx, string data)
    {
        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($"data: {data}\n\n"));
        await ctx.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseSecondChunk.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
