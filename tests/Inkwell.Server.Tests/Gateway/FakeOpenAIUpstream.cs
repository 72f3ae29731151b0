using System.Text;
using System.Text.Json.Nodes;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>An OpenAI-style upstream: /v1/chat/completions streams two chunks, holding the second back until the
/// test says so, so a test can tell a relayed stream from a buffered one. Records the last request body.</summary>
public sealed class FakeOpenAIUpstream : IAsyncDisposable
{
    private LoopbackHost _host = null!;

    public Uri Address => _host.BaseAddress;
    public JsonNode? LastBody { get; private set; }
    public TaskCompletionSource ReleaseSecondChunk { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, the upstream drops the connection when the second chunk is released, as a crashing server does.</summary>
    public bool DieAfterFirstChunk { get; init; }

    public static async Task<FakeOpenAIUpstream> StartAsync(bool dieAfterFirstChunk = false)
    {
        var self = new FakeOpenAIUpstream { DieAfterFirstChunk = dieAfterFirstChunk };
        self._host = await LoopbackHost.StartAsync(app => app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            self.LastBody = await JsonNode.ParseAsync(ctx.Request.Body);
            ctx.Response.ContentType = "text/event-stream";
            await Write(ctx, """{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}""");
            await self.ReleaseSecondChunk.Task.WaitAsync(TimeSpan.FromSeconds(20));
            if (self.DieAfterFirstChunk)
            {
                ctx.Abort();
                return;
            }
            await Write(ctx, """{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}""");
            await Write(ctx, "[DONE]");
        }));
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
        await _host.DisposeAsync();
    }
}
