using System.Text;
using System.Text.Json.Nodes;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>What a fake replica does with a generation request.</summary>
public enum ReplicaBehavior
{
    /// <summary>Answers, naming itself.</summary>
    Answer,

    /// <summary>Drops the connection before any byte of the answer, as a process killed mid-request does.</summary>
    DropBeforeFirstByte,

    /// <summary>Streams one event, then drops the connection.</summary>
    DropAfterFirstEvent,
}

/// <summary>A TGI / OpenAI replica on a loopback port that names itself in every answer and counts its requests:
/// POST /generate, /generate_stream (two SSE events), /v1/chat/completions (echoes the body's model), GET /health.
/// It can be stopped and restarted on the same port, as a killed and restarted pod.</summary>
public sealed class FakeReplica : IAsyncDisposable
{
    private LoopbackHost _host = null!;
    private int _generations;

    public required string Name { get; init; }
    public ReplicaBehavior Behavior { get; set; }
    public Uri Address => _host.BaseAddress;
    public int Generations => Volatile.Read(ref _generations);
    public JsonObject? LastBody { get; private set; }

    public static async Task<FakeReplica> StartAsync(string name)
    {
        var self = new FakeReplica { Name = name };
        self._host = await LoopbackHost.StartAsync(self.Map);
        return self;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Ok());
        app.MapPost("/generate", async (HttpContext ctx) =>
        {
            if (!await BeginAsync(ctx)) return;
            await ctx.Response.WriteAsJsonAsync(new { generated_text = Name });
        });
        app.MapPost("/generate_stream", async (HttpContext ctx) =>
        {
            if (!await BeginAsync(ctx)) return;
            ctx.Response.ContentType = "text/event-stream";
            await WriteEvent(ctx, $$"""{"token":{"id":1,"text":"{{Name}}","logprob":0,"special":false},"generated_text":null,"details":null}""");
            if (Behavior == ReplicaBehavior.DropAfterFirstEvent)
            {
                // Let the event arrive first: an abort resets the connection, and a reset may discard unread bytes.
                await Task.Delay(300);
                ctx.Abort();
                return;
            }
            await WriteEvent(ctx, $$"""{"token":{"id":2,"text":"!","logprob":0,"special":false},"generated_text":"{{Name}}!","details":null}""");
        });
        app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            if (!await BeginAsync(ctx)) return;
            await ctx.Response.WriteAsJsonAsync(new
            {
                id = "c1", @object = "chat.completion", model = LastBody!["model"]?.GetValue<string>(),
                choices = new[] { new { index = 0, message = new { role = "assistant", content = Name }, finish_reason = "stop" } },
            });
        });
    }

    /// <summary>Counts the request and reads its body; false when the behavior is to drop it unanswered.</summary>
    private async Task<bool> BeginAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _generations);
        LastBody = await JsonNode.ParseAsync(ctx.Request.Body) as JsonObject;
        if (Behavior != ReplicaBehavior.DropBeforeFirstByte) return true;
        ctx.Abort();
        return false;
    }

    private static async Task WriteEvent(HttpContext ctx, string data)
    {
        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($"data:{data}\n\n"));
        await ctx.Response.Body.FlushAsync();
    }

    /// <summary>Stops listening (connections are refused), as a killed pod.</summary>
    public Task StopAsync() => _host.StopAsync();

    /// <summary>Listens again on the same port, as the pod restarted.</summary>
    public Task RestartAsync() => _host.RestartAsync();

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
